#!/usr/bin/env python3
"""Where a helper clone's time goes: phases of clone+exit+wait through nslab, from a trace.

Record (as root) N clone(0)+exit+wait through nslab with the syscall and scheduler
tracepoints, then run this on the text of the trace:

    B=$(cargo bench -p nslab-real --bench real_ops --no-run 2>&1 | grep -o 'target/[^ )]*real_ops-[0-9a-f]*')
    perf record -a -o /tmp/t.data -e 'raw_syscalls:sys_enter,raw_syscalls:sys_exit,sched:sched_switch,sched:sched_wakeup,sched:sched_process_exit' -- $B --loop 0 200
    perf script -i /tmp/t.data -F comm,pid,tid,cpu,time,event,trace > /tmp/t.txt
    python3 real/benches/clone_breakdown.py /tmp/t.txt real_ops

The second argument is the start of the processes' comm. Syscall numbers are x86_64's. The
clone request is found as the controller's 44-byte sendmsg (its JSON), so a change of the
request's encoding needs a change here. Every tracepoint costs about a microsecond, so the
phases are longer than untraced; they are medians over the iterations found.
"""
import re,sys,statistics as st
# parse perf script lines of our comm
rx=re.compile(r'^\s*(\S+)\s+(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)$')
ev=[]
for line in open(sys.argv[1]):
    m=rx.match(line)
    if not m: continue
    comm,pid,tid,cpu,t,name,rest=m.groups()
    if not comm.startswith(sys.argv[2]): 
        # keep wakeups of our processes done by others? skip
        continue
    ev.append((float(t)*1e6,int(pid),name,rest))
# controller = pid with most sendmsg of 19 bytes? find pid of first event
ctl=ev[0][1]
# per pid sequences
segs={k:[] for k in ['req->helper wakes','helper: receive and decode until the clone','socketpair','clone (fork) in helper','pidfd_open','parent after fork until reply sent (serialise, COW)','reply sendmsg (SCM_RIGHTS)','reply -> controller has pid (recv, ioctl)','child start (dup2, close_range) until poll','exit req -> child wakes','child: receive until exit_group','exit_group -> controller sees the reap (PIDFD_GET_INFO)','controller: status to the next request','total clone+exit+wait']}
i=0;n=len(ev)
def nxt(j,pred):
    while j<n and not pred(ev[j]): j+=1
    return j
it=0
j=0
while True:
    # controller sendmsg enter with 19-byte clone request: identify by sys_enter NR 46 followed by exit =44 (clone req len 44)
    a=nxt(j,lambda e:e[1]==ctl and e[2]=='raw_syscalls:sys_exit' and e[3].startswith('NR 46 = 44'))
    if a>=n: break
    a0=a
    while not (ev[a0][1]==ctl and ev[a0][2]=='raw_syscalls:sys_enter' and ev[a0][3].startswith('NR 46 ')): a0-=1
    try:
        hp=None
        b=nxt(a,lambda e:e[1]!=ctl and e[2]=='raw_syscalls:sys_exit' and e[3].startswith('NR 7 '))
        hp=ev[b][1]
        sp=nxt(b,lambda e:e[1]==hp and e[2]=='raw_syscalls:sys_enter' and e[3].startswith('NR 53 '))
        spx=nxt(sp,lambda e:e[1]==hp and e[2]=='raw_syscalls:sys_exit' and e[3].startswith('NR 53 '))
        cl=nxt(spx,lambda e:e[1]==hp and e[2]=='raw_syscalls:sys_enter' and e[3].startswith('NR 56 '))
        clx=nxt(cl,lambda e:e[1]==hp and e[2]=='raw_syscalls:sys_exit' and e[3].startswith('NR 56 '))
        child=int(ev[clx][3].split('= ')[1])
        po=nxt(clx,lambda e:e[1]==hp and e[2]=='raw_syscalls:sys_enter' and e[3].startswith('NR 434 '))
        pox=nxt(po,lambda e:e[1]==hp and e[2]=='raw_syscalls:sys_exit' and e[3].startswith('NR 434 '))
        sm=nxt(pox,lambda e:e[1]==hp and e[2]=='raw_syscalls:sys_enter' and e[3].startswith('NR 46 '))
        smx=nxt(sm,lambda e:e[1]==hp and e[2]=='raw_syscalls:sys_exit' and e[3].startswith('NR 46 '))
        cs=nxt(clx,lambda e:e[1]==child and e[2]=='raw_syscalls:sys_exit' and e[3].startswith('NR 56 '))
        cp=nxt(cs,lambda e:e[1]==child and e[2]=='raw_syscalls:sys_enter' and e[3].startswith('NR 7 '))
        cr=nxt(smx,lambda e:e[1]==ctl and e[2]=='raw_syscalls:sys_exit' and e[3].startswith('NR 16 '))
        xs=nxt(cr,lambda e:e[1]==ctl and e[2]=='raw_syscalls:sys_enter' and e[3].startswith('NR 46 '))
        cw=nxt(xs,lambda e:e[1]==child and e[2]=='raw_syscalls:sys_exit' and e[3].startswith('NR 7 '))
        ce=nxt(cw,lambda e:e[1]==child and e[2]=='raw_syscalls:sys_enter' and e[3].startswith('NR 231 '))
        cx=nxt(ce,lambda e:e[1]==ctl and e[2]=='raw_syscalls:sys_exit' and e[3].startswith('NR 16 '))
        # next clone request start
        nx=nxt(cx,lambda e:e[1]==ctl and e[2]=='raw_syscalls:sys_enter' and e[3].startswith('NR 46 '))
        if max(b,sp,cl,po,sm,cs,cp,cr,xs,cw,ce,cx,nx)>=n: break
        T=lambda k:ev[k][0]
        vals=[T(b)-T(a0),T(sp)-T(b),T(spx)-T(sp),T(clx)-T(cl),T(pox)-T(po),T(sm)-T(pox),T(smx)-T(sm),T(cr)-T(smx),T(cp)-T(cs),T(cw)-T(xs),T(ce)-T(cw),T(cx)-T(ce),T(nx)-T(cx),T(nx)-T(a0)]
        if min(vals)<0 or vals[-1]>3000: j=a+1; continue
        for k,v in zip(segs,vals): segs[k].append(v)
        it+=1
    except Exception as e:
        pass
    j=a+1
print("iterations",it)
for k,v in segs.items():
    if v: print("%-62s median %7.1f us"%(k,st.median(v)))
