//! Builds libflashattn (static) with CMake from this repository, or links a prebuilt install
//! given by FLASHATTN_DIR (a prefix with include/ and lib/). The CMake build directory lives in
//! OUT_DIR, so rebuilds are incremental. Also compiles the layout probe the tests use to check
//! the Rust declarations against the C header.
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn run(cmd: &mut Command, what: &str) {
    let status = cmd.status().unwrap_or_else(|e| panic!("flashattn-sys: cannot run {what}: {e}"));
    assert!(status.success(), "flashattn-sys: {what} failed ({status})");
}

fn find_nvcc() -> Option<PathBuf> {
    if let Ok(p) = env::var("FLASHATTN_NVCC") {
        return Some(PathBuf::from(p));
    }
    let mut candidates = vec![PathBuf::from("/usr/local/cuda/bin/nvcc")];
    let cache = env::var("FLASHATTN_CACHE")
        .map(PathBuf::from)
        .or_else(|_| env::var("HOME").map(|h| Path::new(&h).join(".cache/flashattn")));
    if let Ok(cache) = cache {
        candidates.push(cache.join("cuda-13.0.88/nvidia/cu13/bin/nvcc"));
    }
    candidates.into_iter().find(|p| p.exists())
}

/// Builds the static library; returns (include dir, lib dir, cudart_static path if CUDA).
fn cmake_build(root: &Path, cuda: bool) -> (PathBuf, PathBuf, Option<PathBuf>) {
    let build = PathBuf::from(env::var("OUT_DIR").unwrap()).join("cmake-build");
    let mut configure = Command::new("cmake");
    configure
        .arg("-S")
        .arg(root)
        .arg("-B")
        .arg(&build)
        .arg("-DCMAKE_BUILD_TYPE=Release")
        .arg("-DFLASHATTN_BUILD_TESTS=OFF")
        .arg("-DFLASHATTN_BUILD_BENCH=OFF")
        .arg(format!("-DFLASHATTN_ENABLE_CUDA={}", if cuda { "ON" } else { "OFF" }));
    if Command::new("ninja").arg("--version").output().is_ok() && !build.join("Makefile").exists() {
        configure.arg("-G").arg("Ninja");
    }
    if cuda {
        let nvcc = find_nvcc().expect(
            "flashattn-sys: the cuda feature needs nvcc: set FLASHATTN_NVCC, install CUDA in \
             /usr/local/cuda, or run scripts/setup.sh",
        );
        configure.arg(format!("-DCMAKE_CUDA_COMPILER={}", nvcc.display()));
        if let Ok(archs) = env::var("FLASHATTN_CUDA_ARCHS") {
            configure.arg(format!("-DFLASHATTN_CUDA_ARCHS={archs}"));
        }
    }
    run(&mut configure, "cmake configure");
    let jobs = env::var("NUM_JOBS").unwrap_or_else(|_| "2".into());
    run(
        Command::new("cmake").arg("--build").arg(&build).args(["--target", "flashattn_static", "-j", &jobs]),
        "cmake build",
    );
    let cudart = if cuda {
        let cache = std::fs::read_to_string(build.join("CMakeCache.txt")).unwrap_or_default();
        cache
            .lines()
            .find_map(|l| l.strip_prefix("FLASHATTN_CUDART_STATIC:FILEPATH="))
            .map(PathBuf::from)
    } else {
        None
    };
    (root.join("include"), build, cudart)
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("../../..").canonicalize().expect("repository root");
    let cuda = env::var("CARGO_FEATURE_CUDA").is_ok();
    println!("cargo:rerun-if-env-changed=FLASHATTN_DIR");
    println!("cargo:rerun-if-env-changed=FLASHATTN_NVCC");
    println!("cargo:rerun-if-env-changed=FLASHATTN_CUDA_ARCHS");
    println!("cargo:rerun-if-changed=src/layout_probe.c");

    let (include, libdir, cudart) = match env::var("FLASHATTN_DIR") {
        Ok(dir) => {
            let dir = PathBuf::from(dir);
            (dir.join("include"), dir.join("lib"), None)
        }
        Err(_) => {
            for p in ["src", "include", "cmake", "CMakeLists.txt"] {
                println!("cargo:rerun-if-changed={}", root.join(p).display());
            }
            cmake_build(&root, cuda)
        }
    };

    println!("cargo:rustc-link-search=native={}", libdir.display());
    println!("cargo:rustc-link-lib=static=flashattn");
    if cuda {
        match cudart {
            Some(p) => {
                println!("cargo:rustc-link-search=native={}", p.parent().unwrap().display());
            }
            None => {
                if let Ok(dir) = env::var("FLASHATTN_CUDA_LIB") {
                    println!("cargo:rustc-link-search=native={dir}");
                }
            }
        }
        println!("cargo:rustc-link-lib=static=cudart_static");
        println!("cargo:rustc-link-lib=rt");
    }
    println!("cargo:rustc-link-lib=stdc++");
    println!("cargo:rustc-link-lib=dl");
    println!("cargo:rustc-link-lib=pthread");
    println!("cargo:include={}", include.display());

    cc::Build::new().file("src/layout_probe.c").include(&include).compile("flashattn_sys_probe");
}
