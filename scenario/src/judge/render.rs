//! Rendering: the observed texts of `expect` lines, written piece by piece into one string.

use super::facts::Portable;
use crate::ast::IntField;
use crate::canon::{CanonView, NsLabel};
use nslab_machine::machine::{NsEntry, NsType};
use std::fmt::{self, Write as _};

/// A canonical hostname as the observed text shows it: `<root>` or the quoted name.
pub(super) struct HostnameText<'a>(pub(super) &'a CanonView);

impl fmt::Display for HostnameText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.hostname {
            None => f.write_str("<root>"),
            Some(h) => write!(f, "\"{h}\""),
        }
    }
}

/// Appends an entry's label as the observed text shows it: `pid#3`, the errno name, or
/// nothing for a task that does not run (what `NsLabel::display` writes).
pub(super) fn push_label(o: &mut String, label: Option<NsLabel>, ty: NsType) {
    if let Some(l) = label {
        let _ = write!(o, "{}", l.display(ty));
    }
}

/// Appends `A.pid=2` (or `<root>`, or why the number could not be read).
pub(super) fn push_int_fact(o: &mut String, task: &str, field: IntField, value: &Portable) {
    o.push_str(task);
    o.push('.');
    o.push_str(field.name());
    o.push('=');
    match value {
        Portable::Num(n) => o.push_str(itoa::Buffer::new().format(*n)),
        other => {
            let _ = write!(o, "{other}");
        }
    }
}

/// Appends `A.ns.net=net#1`.
pub(super) fn push_ns_fact(o: &mut String, task: &str, entry: NsEntry, label: Option<NsLabel>) {
    o.push_str(task);
    o.push_str(".ns.");
    o.push_str(entry.file_name());
    o.push('=');
    push_label(o, label, entry.ns_type());
}
