//! Reference counting shared by the namespaces that hold only an owner.
//!
//! Mirrors include/linux/ns_common.h and the `get_*_ns`/`put_*_ns` helpers of each
//! namespace's header (v6.18): a get adds one; the put that reaches zero frees the
//! namespace, which gives back its inode number, uncharges its creator's ucount and puts its
//! owning user namespace.
//!
//! Source:
//! <https://elixir.bootlin.com/linux/v6.18/source/include/linux/ns_common.h>.

/// Defines `get_<name>` and `put_<name>` for a namespace type whose struct has `ns:
/// NsCommon`, `user_ns: UserNsRef` and `ucounts_key: Option<(UserNsRef, u32)>`.
macro_rules! owned_ns_refcounting {
    ($slab:ident, $ref:ty, $ty:expr, $get:ident, $put:ident, $free:literal, $file:literal) => {
        impl $crate::kernel::Kernel {
            pub(crate) fn $get(&mut self, ns: $ref) {
                let (count, inum) = {
                    let n = &mut self.$slab[ns];
                    n.ns.count += 1;
                    (n.ns.count, n.ns.inum)
                };
                self.note(|_| $crate::trace::Step::Get {
                    object: format!("{}:[{}]", $ty.proc_name(), inum),
                    count,
                });
            }

            pub(crate) fn $put(&mut self, ns: $ref) {
                let (count, inum) = {
                    let n = &mut self.$slab[ns];
                    n.ns.count -= 1;
                    (n.ns.count, n.ns.inum)
                };
                self.note(|_| $crate::trace::Step::Put {
                    object: format!("{}:[{}]", $ty.proc_name(), inum),
                    count,
                });
                if count == 0 {
                    let _ = self.call($free, $file, |k| {
                        let n = k.$slab.remove(ns);
                        k.note(|_| $crate::trace::Step::Free {
                            object: format!("{}:[{}]", $ty.proc_name(), inum),
                        });
                        k.proc_free_inum(n.ns.inum);
                        if let Some((uns, uid)) = n.ucounts_key {
                            k.dec_ucount(uns, uid, $ty);
                        }
                        k.put_user_ns(n.user_ns);
                        Ok(())
                    });
                }
            }
        }
    };
}

pub(crate) use owned_ns_refcounting;
