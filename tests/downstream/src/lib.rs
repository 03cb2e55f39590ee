//! One property written with nslab's public API only: every reference count of the model
//! equals its holders after every step of a random sequence.

#[cfg(test)]
mod tests {
    use nslab_machine::sched::{CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWUSER};
    use nslab_scenario::property::{
        check_property, ops_with, run_sequence, OpKind, OpsConfig, PropertyConfig, Step,
    };
    use nslab_sim::Kernel;
    use proptest::prelude::*;

    fn counts_match_holders(step: &mut Step<'_, Kernel>) -> Result<(), String> {
        let bad = step.machine.check_invariants();
        if bad.is_empty() {
            Ok(())
        } else {
            Err(bad.join("; "))
        }
    }

    fn config() -> OpsConfig {
        OpsConfig::default()
            .only(&[OpKind::Clone, OpKind::Unshare, OpKind::SetnsPidfd, OpKind::Exit])
            .namespace_flags(&[CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUSER])
            .steps(1, 8)
    }

    #[test]
    fn with_check_property() {
        let result = check_property(
            "counts-match-holders",
            &config(),
            &PropertyConfig { cases: 64, ..PropertyConfig::default() },
            || Ok(vec![Box::new(Kernel::boot())]),
            counts_match_holders,
        );
        if let Err(e) = result {
            panic!("{e}");
        }
    }

    proptest! {
        // The same property in a plain proptest block, with the exported strategy.
        #[test]
        fn with_the_strategy(seq in ops_with(&config())) {
            let mut k = Kernel::boot();
            let r = run_sequence("counts-match-holders", &seq, &mut k, &mut counts_match_holders);
            prop_assert!(r.is_ok(), "{}", r.unwrap_err());
        }
    }
}
