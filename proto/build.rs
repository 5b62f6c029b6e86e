fn main() {
    println!("cargo:rerun-if-changed=proto/ferrokube.proto");
    tonic_prost_build::configure()
        .compile_protos(&["proto/ferrokube.proto"], &["proto"])
        .expect("compiling proto/ferrokube.proto (needs protoc: apt-get install protobuf-compiler libprotobuf-dev)");
}
