//! `nslab lsns`: every namespace of the running system, util-linux `lsns` compatible where
//! util-linux has the feature, and beyond it: namespaces held only by bind mounts (in every
//! mount namespace), fds, threads or a child's link; why each one is alive (`HELD-BY`); a
//! process's pid at every level (`NSPID`); and its capabilities in the namespace (`CAPS`).
//!
//! The discovery is `nslab_real::inspect::lsns`; this file is the columns and the output.

use super::UsageError;
use nslab_real::inspect::lsns::{caps_in, scan, Holder, Namespace, NsId, Rel, Scan, ScanOptions};
use nslab_sim::{NsEntry, NsType};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;

/// Arguments of `nslab lsns`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Columns: NS TYPE PATH NPROCS PID PPID COMMAND UID USER NETNSID NSFS PNS ONS (as util-linux),
HELD-BY (process, thread, mount, fd, or only a child's parent-link/owner-link), NSPID (the pid
of PID at every pid-namespace level, outermost first: 5709/72) and CAPS (what PID can do in the
namespace's user namespace, and why).

Examples:
  nslab lsns                         every namespace, util-linux's columns and HELD-BY
  nslab lsns -t net -o NS,HELD-BY,NSFS,NETNSID
  nslab lsns -P                      only those no process is in (mounts, fds, hidden)
  nslab lsns --tree=owner            nested under the owning user namespace
  nslab lsns -t pid -o NS,PID,NSPID,CAPS   (NSPID and CAPS are of the PID column's process)
  nslab lsns -J                      JSON, as util-linux's {\"namespaces\": [...]}")]
pub struct LsnsArgs {
    /// Use JSON output format.
    #[arg(short = 'J', long)]
    pub json: bool,

    /// Use list format output (no tree).
    #[arg(short = 'l', long)]
    pub list: bool,

    /// Don't print headings.
    #[arg(short = 'n', long)]
    pub noheadings: bool,

    /// Columns to print, comma-separated (`+COLS` adds to the default ones).
    #[arg(short = 'o', long, value_name = "LIST")]
    pub output: Option<String>,

    /// Print every column.
    #[arg(long = "output-all")]
    pub output_all: bool,

    /// Only the namespaces of this process (repeatable).
    #[arg(short = 'p', long = "task", value_name = "PID")]
    pub task: Vec<i32>,

    /// Use the raw output format.
    #[arg(short = 'r', long)]
    pub raw: bool,

    /// Namespace type: mnt, net, ipc, user, pid, uts, cgroup, time (repeatable).
    #[arg(short = 't', long = "type", value_name = "NAME")]
    pub types: Vec<String>,

    /// Use tree format: process (the default without -l), parent, or owner.
    #[arg(short = 'T', long, value_name = "REL", num_args = 0..=1, default_missing_value = "owner", require_equals = true)]
    pub tree: Option<String>,

    /// Only persistent namespaces: those no process or thread is in (held by a bind mount,
    /// an fd, or a child's link).
    #[arg(short = 'P', long)]
    pub persistent: bool,

    /// Accepted for util-linux compatibility (nslab never truncates).
    #[arg(short = 'u', long)]
    pub notruncate: bool,

    /// Accepted for util-linux compatibility (nslab never wraps).
    #[arg(short = 'W', long)]
    pub nowrap: bool,

    /// A namespace (inode number): list the processes in it.
    #[arg(value_name = "NAMESPACE")]
    pub namespace: Option<u64>,
}

/// The columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    Ns,
    Type,
    Path,
    Nprocs,
    Pid,
    Ppid,
    Command,
    Uid,
    User,
    Netnsid,
    Nsfs,
    Pns,
    Ons,
    HeldBy,
    Nspid,
    Caps,
}

const ALL_COLS: [Col; 16] = [
    Col::Ns,
    Col::Type,
    Col::Path,
    Col::Nprocs,
    Col::Pid,
    Col::Ppid,
    Col::Command,
    Col::Uid,
    Col::User,
    Col::Netnsid,
    Col::Nsfs,
    Col::Pns,
    Col::Ons,
    Col::HeldBy,
    Col::Nspid,
    Col::Caps,
];

/// util-linux's default columns, with HELD-BY before COMMAND.
const DEFAULT_COLS: [Col; 7] = [
    Col::Ns,
    Col::Type,
    Col::Nprocs,
    Col::Pid,
    Col::User,
    Col::HeldBy,
    Col::Command,
];

impl Col {
    fn name(self) -> &'static str {
        match self {
            Col::Ns => "NS",
            Col::Type => "TYPE",
            Col::Path => "PATH",
            Col::Nprocs => "NPROCS",
            Col::Pid => "PID",
            Col::Ppid => "PPID",
            Col::Command => "COMMAND",
            Col::Uid => "UID",
            Col::User => "USER",
            Col::Netnsid => "NETNSID",
            Col::Nsfs => "NSFS",
            Col::Pns => "PNS",
            Col::Ons => "ONS",
            Col::HeldBy => "HELD-BY",
            Col::Nspid => "NSPID",
            Col::Caps => "CAPS",
        }
    }

    fn right(self) -> bool {
        matches!(
            self,
            Col::Ns
                | Col::Nprocs
                | Col::Pid
                | Col::Ppid
                | Col::Uid
                | Col::Netnsid
                | Col::Pns
                | Col::Ons
        )
    }

    /// Numbers in JSON.
    fn numeric(self) -> bool {
        matches!(
            self,
            Col::Ns | Col::Nprocs | Col::Pid | Col::Ppid | Col::Uid | Col::Pns | Col::Ons
        )
    }

    fn parse(s: &str) -> Option<Col> {
        ALL_COLS
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s.trim()))
    }
}

fn parse_cols(spec: &str) -> Result<Vec<Col>, UsageError> {
    let (mut cols, rest) = match spec.strip_prefix('+') {
        Some(r) => (DEFAULT_COLS.to_vec(), r),
        None => (Vec::new(), spec),
    };
    for name in rest.split(',').filter(|s| !s.is_empty()) {
        let c = Col::parse(name).ok_or_else(|| {
            let valid: Vec<&str> = ALL_COLS.iter().map(|c| c.name()).collect();
            UsageError(format!(
                "unknown column: {name}; valid: {}",
                valid.join(", ")
            ))
        })?;
        cols.push(c);
    }
    Ok(cols)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tree {
    None,
    Process,
    Parent,
    Owner,
}

/// One row, its cells as text (`None` = empty / JSON null).
struct Row {
    id: NsId,
    cells: Vec<Option<String>>,
    parent_row: Option<usize>,
}

/// Runs `nslab lsns`.
pub fn run(args: LsnsArgs) -> anyhow::Result<u8> {
    let mut types = Vec::new();
    for t in &args.types {
        let ty = NsType::from_name(t).filter(|_| !t.to_ascii_lowercase().starts_with("clone"));
        match ty {
            Some(ty) => types.push(ty),
            None => {
                return Err(UsageError(format!(
                "unknown namespace type: {t}; valid: mnt, net, ipc, user, pid, uts, cgroup, time"
            ))
                .into())
            }
        }
    }
    let cols = match (&args.output, args.output_all) {
        (_, true) => ALL_COLS.to_vec(),
        (Some(spec), false) => parse_cols(spec)?,
        (None, false) => DEFAULT_COLS.to_vec(),
    };
    let tree = match args.tree.as_deref() {
        None if args.list || args.raw => Tree::None,
        None => Tree::Process,
        Some("process") => Tree::Process,
        Some("parent") => Tree::Parent,
        Some("owner") => Tree::Owner,
        Some(other) => {
            return Err(UsageError(format!(
                "unknown tree relation: {other}; valid: process, parent, owner"
            ))
            .into())
        }
    };

    // NSpid and CapEff are in /proc/<pid>/status, read only when a column shows them.
    let s = scan(ScanOptions {
        status: cols.contains(&Col::Nspid) || cols.contains(&Col::Caps),
        ..ScanOptions::default()
    });

    if let Some(ino) = args.namespace {
        return list_processes(&s, ino, &args);
    }

    // Which namespaces.
    let mut ids: Vec<NsId> = Vec::new();
    for (id, n) in &s.namespaces {
        if !types.is_empty() && !types.contains(&n.ty) {
            continue;
        }
        if args.persistent
            && n.holders
                .iter()
                .any(|h| matches!(h, Holder::Process { .. } | Holder::Thread { .. }))
        {
            continue;
        }
        if !args.task.is_empty() {
            let mine = args.task.iter().any(|pid| {
                s.processes.get(pid).is_some_and(|p| {
                    [
                        NsEntry::Mnt,
                        NsEntry::Uts,
                        NsEntry::Ipc,
                        NsEntry::Pid,
                        NsEntry::Net,
                        NsEntry::User,
                        NsEntry::Cgroup,
                        NsEntry::Time,
                    ]
                    .iter()
                    .any(|e| p.ns_of(*e) == Some(*id))
                })
            });
            if !mine {
                continue;
            }
        }
        ids.push(*id);
    }
    for pid in &args.task {
        if !s.processes.contains_key(pid) {
            return Err(anyhow::anyhow!("cannot open /proc/{pid}: no such process"));
        }
    }
    // util-linux sorts by inode.
    ids.sort_by_key(|id| (id.ino, id.dev));

    let mut ctx = Ctx::new(&s, &cols);
    let mut rows: Vec<Row> = ids
        .iter()
        .map(|id| Row {
            id: *id,
            cells: cols
                .iter()
                .map(|c| ctx.cell(&s.namespaces[id], *c))
                .collect(),
            parent_row: None,
        })
        .collect();

    // Tree links between rows.
    if tree != Tree::None {
        let pos: HashMap<NsId, usize> = rows.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        for (i, row) in rows.iter_mut().enumerate() {
            let n = &s.namespaces[&row.id];
            let up = match tree {
                Tree::Parent => match n.ty {
                    NsType::User => n.owner.ns(),
                    NsType::Pid => n.parent.ns(),
                    _ => None,
                },
                Tree::Owner => n.owner.ns(),
                Tree::Process => process_parent_ns(&s, n),
                Tree::None => None,
            };
            row.parent_row = up.and_then(|u| pos.get(&u).copied()).filter(|&p| p != i);
        }
        break_cycles(&mut rows);
    }

    let mut out = String::new();
    if args.json {
        let v = json(&rows, &cols, tree != Tree::None);
        out = serde_json::to_string_pretty(&v)?;
        out.push('\n');
    } else {
        let glyph_col = match tree {
            Tree::None => None,
            Tree::Process => cols.iter().position(|c| *c == Col::Command),
            Tree::Parent | Tree::Owner => cols.iter().position(|c| *c == Col::Ns),
        };
        table(&mut out, &rows, &cols, &args, glyph_col);
    }
    emit(&out)?;
    report_unreadable(&s);
    Ok(0)
}

/// Writes to stdout; a reader that went away (`nslab lsns | head`) ends the output quietly,
/// as util-linux does, instead of a panic.
pub(crate) fn emit(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// What could not be read, on stderr (the listing has everything else): what failed for
/// many processes is counted (`/proc/<pid>/ns of 106 processes: permission denied`), the rest
/// (such as an ioctl refused above the caller's user namespace) is said as it is.
fn report_unreadable(s: &Scan) {
    if s.unreadable.is_empty() {
        return;
    }
    // "/proc/<pid>/<what>: <why>" -> (what, why) -> pids.
    let mut per: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut other: Vec<String> = Vec::new();
    for u in &s.unreadable {
        let parsed = u.strip_prefix("/proc/").and_then(|rest| {
            let (pid, rest) = rest.split_once('/')?;
            let (what, why) = rest.split_once(": ")?;
            pid.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| (pid.to_string(), what.to_string(), why.to_string()))
        });
        match parsed {
            Some((pid, what, why)) => per.entry((what, why)).or_default().push(pid),
            None => other.push(u.clone()),
        }
    }
    let mut items: Vec<String> = Vec::new();
    for ((what, why), pids) in per {
        if pids.len() == 1 {
            items.push(format!("/proc/{}/{what}: {why}", pids[0]));
        } else {
            items.push(format!(
                "/proc/<pid>/{what} of {} processes: {why}",
                pids.len()
            ));
        }
    }
    other.sort();
    other.dedup();
    items.extend(other);
    eprintln!("nslab lsns: not readable: {}", items.join("; "));
}

/// For the process tree: the namespace of the same type of the parent of the row's process.
fn process_parent_ns(s: &Scan, n: &Namespace) -> Option<NsId> {
    let pid = *n.procs.first()?;
    let p = s.processes.get(&pid)?;
    let parent = s.processes.get(&p.ppid)?;
    let entry = NsEntry::ALL.into_iter().find(|e| e.ns_type() == n.ty)?;
    parent.ns_of(entry)
}

/// A row whose chain of parents loops (not possible for the kernel's relations, but a
/// process tree read while processes come and go can be odd) becomes a root.
fn break_cycles(rows: &mut [Row]) {
    for i in 0..rows.len() {
        let mut cur = rows[i].parent_row;
        let mut steps = 0;
        while let Some(c) = cur {
            if c == i || steps > rows.len() {
                rows[i].parent_row = None;
                break;
            }
            cur = rows[c].parent_row;
            steps += 1;
        }
    }
}

/// Per-run caches: user names and netns ids.
struct Ctx<'a> {
    s: &'a Scan,
    users: HashMap<u32, Option<String>>,
    nsid: Option<nslab_real::inspect::nsid::NsidSocket>,
}

impl<'a> Ctx<'a> {
    fn new(s: &'a Scan, cols: &[Col]) -> Ctx<'a> {
        Ctx {
            s,
            users: HashMap::new(),
            nsid: if cols.contains(&Col::Netnsid) {
                nslab_real::inspect::nsid::NsidSocket::open()
            } else {
                None
            },
        }
    }

    fn user(&mut self, uid: u32) -> Option<String> {
        self.users
            .entry(uid)
            .or_insert_with(|| {
                nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
                    .ok()
                    .flatten()
                    .map(|u| u.name)
            })
            .clone()
    }

    /// The process that represents a namespace: its lowest pid, else a thread's or an fd's
    /// process.
    fn pid_of(n: &Namespace) -> Option<i32> {
        n.procs.first().copied().or_else(|| {
            n.holders.iter().find_map(|h| match h {
                Holder::Thread { pid, .. } | Holder::Fd { pid, .. } => Some(*pid),
                _ => None,
            })
        })
    }

    fn cell(&mut self, n: &Namespace, c: Col) -> Option<String> {
        let s = self.s;
        let pid = Self::pid_of(n);
        let proc_ = pid.and_then(|p| s.processes.get(&p));
        let ino = |r: Rel| match r {
            Rel::Ns(id) => Some(id.ino.to_string()),
            Rel::None => Some("0".to_string()),
            Rel::Unknown(_) => None,
        };
        match c {
            Col::Ns => Some(n.id.ino.to_string()),
            Col::Type => Some(n.ty.proc_name().to_string()),
            Col::Path => {
                if let Some(p) = n.procs.first() {
                    Some(format!("/proc/{p}/ns/{}", n.ty.proc_name()))
                } else {
                    n.holders.iter().find_map(|h| match h {
                        Holder::Mount { path, .. } => Some(path.clone()),
                        Holder::Thread { pid, tid, entry } => {
                            Some(format!("/proc/{pid}/task/{tid}/ns/{}", entry.file_name()))
                        }
                        Holder::Fd { pid, fd } => Some(format!("/proc/{pid}/fd/{fd}")),
                        _ => None,
                    })
                }
            }
            Col::Nprocs => Some(n.procs.len().to_string()),
            Col::Pid => pid.map(|p| p.to_string()),
            Col::Ppid => proc_.map(|p| p.ppid.to_string()),
            Col::Command => proc_.map(|p| p.command()),
            Col::Uid => proc_.map(|p| p.uid.to_string()),
            Col::User => proc_.and_then(|p| self.user(p.uid)),
            Col::Netnsid => {
                if n.ty != NsType::Net {
                    return None;
                }
                let path = n.path.as_ref()?;
                let f = std::fs::File::open(path).ok()?;
                let id = self
                    .nsid
                    .as_mut()
                    .and_then(|s| s.nsid(std::os::fd::AsFd::as_fd(&f)))?;
                Some(if id < 0 {
                    "unassigned".to_string()
                } else {
                    id.to_string()
                })
            }
            Col::Nsfs => {
                // This mount namespace's paths first, then others' with their namespace.
                let mut m: Vec<String> = Vec::new();
                for foreign in [false, true] {
                    for h in &n.holders {
                        if let Holder::Mount { path, mnt_ns, .. } = h {
                            if (Some(*mnt_ns) != own_mnt_ns()) != foreign {
                                continue;
                            }
                            let p = if foreign {
                                format!("{path}(mnt:[{mnt_ns}])")
                            } else {
                                path.clone()
                            };
                            if !m.contains(&p) {
                                m.push(p);
                            }
                        }
                    }
                }
                (!m.is_empty()).then(|| m.join(","))
            }
            Col::Pns => match n.ty {
                NsType::User => ino(n.owner),
                NsType::Pid => ino(n.parent),
                _ => Some("0".into()),
            },
            Col::Ons => ino(n.owner),
            Col::HeldBy => Some(held_by(n)),
            Col::Nspid => proc_.map(|p| {
                let v: Vec<String> = p.nspid.iter().map(i32::to_string).collect();
                v.join("/")
            }),
            Col::Caps => {
                let target = if n.ty == NsType::User {
                    Some(n.id)
                } else {
                    n.owner.ns()
                };
                match (proc_, target) {
                    (Some(p), Some(t)) => Some(caps_in(s, p, t)),
                    _ => None,
                }
            }
        }
    }
}

/// `process,mount:/run/netns/x,fd:1234/5`: every holder but the processes (NPROCS counts
/// those), each kind once with its first instance and a count of the rest.
fn held_by(n: &Namespace) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut counts: BTreeMap<&'static str, (String, usize)> = BTreeMap::new();
    let mut order: Vec<&'static str> = Vec::new();
    // A bind mount in this mount namespace is named before those seen in others.
    let mut holders: Vec<&Holder> = n.holders.iter().collect();
    holders.sort_by_key(
        |h| matches!(h, Holder::Mount { mnt_ns, .. } if Some(*mnt_ns) != own_mnt_ns()),
    );
    for h in holders {
        let text = match h {
            // Only through `pid_for_children`/`time_for_children` (an `unshare` before the
            // first child): named, since NPROCS says 0.
            Holder::Process { pid, entry } if n.procs.is_empty() => {
                format!("{}:{pid}", entry.file_name())
            }
            Holder::Process { .. } => "process".to_string(),
            Holder::Thread { tid, .. } => format!("thread:{tid}"),
            Holder::Mount { path, mnt_ns, .. } if Some(*mnt_ns) != own_mnt_ns() => {
                format!("mount:{path}(mnt:[{mnt_ns}])")
            }
            Holder::Mount { path, .. } => format!("mount:{path}"),
            Holder::Fd { pid, fd } => format!("fd:{pid}/{fd}"),
            Holder::Parent { child } => format!("parent-link:{}", child.ino),
            Holder::Owner { of } => format!("owner-link:{}", of.ino),
        };
        let k = h.kind();
        match counts.get_mut(k) {
            Some((_, c)) => *c += 1,
            None => {
                order.push(k);
                counts.insert(k, (text, 1));
            }
        }
    }
    for k in order {
        let (text, c) = &counts[k];
        if (k == "process" && !n.procs.is_empty()) || *c == 1 {
            parts.push(text.clone());
        } else {
            parts.push(format!("{text}(+{})", c - 1));
        }
    }
    parts.join(",")
}

/// The inode of this process's mount namespace: a bind mount elsewhere is shown with its
/// namespace, since its path means something only there.
fn own_mnt_ns() -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    static OWN: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *OWN.get_or_init(|| std::fs::metadata("/proc/self/ns/mnt").ok().map(|m| m.ino()))
}

/// The rows in display order with their tree prefixes (`├─`, `└─`).
fn ordered(rows: &[Row]) -> Vec<(usize, String)> {
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
    let mut roots = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        match r.parent_row {
            Some(p) => children[p].push(i),
            None => roots.push(i),
        }
    }
    let mut out = Vec::new();
    fn walk(
        i: usize,
        prefix: &str,
        glyph: &str,
        children: &[Vec<usize>],
        out: &mut Vec<(usize, String)>,
    ) {
        out.push((i, format!("{prefix}{glyph}")));
        let cont = match glyph {
            "├─" => "│ ",
            "└─" => "  ",
            _ => "",
        };
        let next = format!("{prefix}{cont}");
        let n = children[i].len();
        for (k, &c) in children[i].iter().enumerate() {
            walk(
                c,
                &next,
                if k + 1 == n { "└─" } else { "├─" },
                children,
                out,
            );
        }
    }
    for r in roots {
        walk(r, "", "", &children, &mut out);
    }
    out
}

/// util-linux's raw escaping: bytes outside printable ASCII and spaces as `\xHH`.
fn raw_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_graphic() && b != b'\\' {
            o.push(b as char);
        } else {
            let _ = write!(o, "\\x{b:02x}");
        }
    }
    o
}

fn table(out: &mut String, rows: &[Row], cols: &[Col], args: &LsnsArgs, glyph_col: Option<usize>) {
    let order: Vec<(usize, String)> = if glyph_col.is_some() {
        ordered(rows)
    } else {
        (0..rows.len()).map(|i| (i, String::new())).collect()
    };
    let lines: Vec<Vec<String>> = order
        .iter()
        .map(|(i, prefix)| {
            rows[*i]
                .cells
                .iter()
                .enumerate()
                .map(|(ci, c)| {
                    let v = c.clone().unwrap_or_default();
                    if Some(ci) == glyph_col {
                        format!("{prefix}{v}")
                    } else {
                        v
                    }
                })
                .collect()
        })
        .collect();
    if args.raw {
        if !args.noheadings {
            let h: Vec<&str> = cols.iter().map(|c| c.name()).collect();
            let _ = writeln!(out, "{}", h.join(" "));
        }
        for l in &lines {
            let cells: Vec<String> = l.iter().map(|c| raw_escape(c)).collect();
            let _ = writeln!(out, "{}", cells.join(" "));
        }
        return;
    }
    let width = |s: &str| s.chars().count();
    let mut w: Vec<usize> = cols
        .iter()
        .map(|c| if args.noheadings { 0 } else { width(c.name()) })
        .collect();
    for l in &lines {
        for (i, c) in l.iter().enumerate() {
            w[i] = w[i].max(width(c));
        }
    }
    let fmt_line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        let last = cells.len().saturating_sub(1);
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            let pad = w[i].saturating_sub(width(c));
            // The tree column is left-aligned even when it holds numbers.
            let right = cols[i].right() && Some(i) != glyph_col;
            if right {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            } else {
                s.push_str(c);
                if i != last {
                    s.push_str(&" ".repeat(pad));
                }
            }
        }
        s.trim_end().to_string()
    };
    if !args.noheadings {
        let _ = writeln!(out, "{}", fmt_line(cols.iter().map(|c| c.name()).collect()));
    }
    for l in &lines {
        let _ = writeln!(out, "{}", fmt_line(l.iter().map(String::as_str).collect()));
    }
}

fn json(rows: &[Row], cols: &[Col], nested: bool) -> Value {
    let obj = |r: &Row| -> Map<String, Value> {
        let mut m = Map::new();
        for (c, v) in cols.iter().zip(&r.cells) {
            let key = c.name().to_ascii_lowercase();
            let val = match v {
                None => Value::Null,
                Some(s) if c.numeric() => s
                    .parse::<u64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| Value::String(s.clone())),
                Some(s) if *c == Col::Netnsid => s
                    .parse::<u64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| Value::String(s.clone())),
                Some(s) => Value::String(s.clone()),
            };
            m.insert(key, val);
        }
        m
    };
    let list: Vec<Value> = if nested {
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
        let mut roots = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            match r.parent_row {
                Some(p) => children[p].push(i),
                None => roots.push(i),
            }
        }
        fn build(
            i: usize,
            rows: &[Row],
            children: &[Vec<usize>],
            obj: &dyn Fn(&Row) -> Map<String, Value>,
        ) -> Value {
            let mut m = obj(&rows[i]);
            if !children[i].is_empty() {
                let kids: Vec<Value> = children[i]
                    .iter()
                    .map(|&c| build(c, rows, children, obj))
                    .collect();
                m.insert("children".into(), Value::Array(kids));
            }
            Value::Object(m)
        }
        roots
            .into_iter()
            .map(|r| build(r, rows, &children, &obj))
            .collect()
    } else {
        rows.iter().map(|r| Value::Object(obj(r))).collect()
    };
    let mut top = Map::new();
    top.insert("namespaces".into(), Value::Array(list));
    Value::Object(top)
}

/// `nslab lsns NS`: the processes in namespace NS (any type with that inode).
fn list_processes(s: &Scan, ino: u64, args: &LsnsArgs) -> anyhow::Result<u8> {
    let Some(n) = s.namespaces.values().find(|n| n.id.ino == ino) else {
        return Err(anyhow::anyhow!("no namespace {ino}"));
    };
    let mut out = String::new();
    if !args.noheadings {
        let _ = writeln!(out, "{:>7} {:>7} {:<8} COMMAND", "PID", "PPID", "USER");
    }
    let mut users: HashMap<u32, String> = HashMap::new();
    for pid in &n.procs {
        let Some(p) = s.processes.get(pid) else {
            continue;
        };
        let user = users
            .entry(p.uid)
            .or_insert_with(|| {
                nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(p.uid))
                    .ok()
                    .flatten()
                    .map(|u| u.name)
                    .unwrap_or_else(|| p.uid.to_string())
            })
            .clone();
        let _ = writeln!(
            out,
            "{:>7} {:>7} {:<8} {}",
            p.pid,
            p.ppid,
            user,
            p.command()
        );
    }
    emit(&out)?;
    report_unreadable(s);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(parent: Option<usize>) -> Row {
        Row {
            id: NsId { dev: 4, ino: 1 },
            cells: Vec::new(),
            parent_row: parent,
        }
    }

    #[test]
    fn trees_are_drawn_as_util_linux_draws_them() {
        // 0 ── 1 ── 3
        //  └── 2
        let rows = vec![row(None), row(Some(0)), row(Some(0)), row(Some(1))];
        let got: Vec<(usize, String)> = ordered(&rows);
        assert_eq!(
            got,
            vec![
                (0, String::new()),
                (1, "├─".into()),
                (3, "│ └─".into()),
                (2, "└─".into()),
            ]
        );
    }

    #[test]
    fn a_loop_becomes_a_root() {
        let mut rows = vec![row(Some(1)), row(Some(0)), row(None)];
        break_cycles(&mut rows);
        assert!(rows[0].parent_row.is_none() || rows[1].parent_row.is_none());
        assert_eq!(ordered(&rows).len(), 3);
    }

    #[test]
    fn raw_output_escapes_as_util_linux() {
        assert_eq!(raw_escape("sleep 30"), "sleep\\x2030");
        assert_eq!(raw_escape("a\\b"), "a\\x5cb");
        assert_eq!(raw_escape("kthreadd"), "kthreadd");
    }

    #[test]
    fn columns_parse_in_any_case_and_plus_adds() {
        assert_eq!(
            parse_cols("ns,held-by").unwrap(),
            vec![Col::Ns, Col::HeldBy]
        );
        let plus = parse_cols("+PNS").unwrap();
        assert_eq!(plus.len(), DEFAULT_COLS.len() + 1);
        assert_eq!(plus.last(), Some(&Col::Pns));
        assert!(parse_cols("NS,NOPE")
            .unwrap_err()
            .0
            .contains("unknown column: NOPE"));
    }

    #[test]
    fn held_by_names_each_kind_once_with_a_count() {
        let id = NsId { dev: 4, ino: 9 };
        let n = Namespace {
            id,
            ty: NsType::Net,
            holders: vec![
                Holder::Process {
                    pid: 5,
                    entry: NsEntry::Net,
                },
                Holder::Fd { pid: 7, fd: 3 },
                Holder::Fd { pid: 8, fd: 4 },
            ],
            procs: vec![5],
            owner: Rel::None,
            parent: Rel::None,
            owner_uid: None,
            path: None,
        };
        assert_eq!(held_by(&n), "process,fd:7/3(+1)");
    }
}
