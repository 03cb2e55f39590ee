fn main() {
    println!("cargo:rustc-link-arg-bin=nslab=-no-pie");
    println!("cargo:rustc-link-arg-bin=nslab=-Wl,-z,lazy");
}
