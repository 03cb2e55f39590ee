//! The machines a property runs on ([`nslab_scenario::property::check_property`]): the
//! model, the kernel, or both, made fresh for every case. The kernel's machines need a
//! helper program: a binary whose `main` calls [`nslab_real::enter_helper_if_requested`]
//! first (an example passes its own executable).

use nslab_real::RealMachine;
use nslab_scenario::Machine;
use nslab_sim::Kernel;
use std::path::Path;

/// Where a property runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backends {
    /// The model only.
    Model,
    /// The running kernel only.
    Kernel,
    /// The kernel, then the model booted where the kernel's root helper stands.
    Both,
}

/// Fresh machines for one case.
pub fn machines(backends: Backends, helper: &Path) -> Result<Vec<Box<dyn Machine>>, String> {
    let real = |helper: &Path| {
        RealMachine::start(helper).map_err(|e| format!("the real backend cannot start: {e}"))
    };
    Ok(match backends {
        Backends::Model => vec![Box::new(Kernel::boot())],
        Backends::Kernel => vec![Box::new(real(helper)?)],
        Backends::Both => {
            let r = real(helper)?;
            let sim = Kernel::boot_at(&r.origin());
            vec![Box::new(sim), Box::new(r)]
        }
    })
}

/// Why the kernel cannot be used here, if it cannot: not root, or the real backend does not
/// start. A caller prints `SKIPPED: <what>: <reason>` and goes on with the model.
pub fn kernel_unavailable(helper: &Path) -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root: the kernel side needs root".into());
    }
    RealMachine::start(helper)
        .err()
        .map(|e| format!("the real backend cannot start: {e}"))
}
