fn main() {
    // Migrations are embedded: rebuild when they change.
    println!("cargo:rerun-if-changed=migrations");
}
