//! The helper binary of nslab-real's own tests and benchmarks: it only becomes a helper.

fn main() {
    nslab_real::enter_helper_if_requested();
    eprintln!(
        "nslab-real-helper: this program is started by nslab-real as a helper; run `nslab` instead"
    );
    std::process::exit(2);
}
