// Entry for the vendored build (esbuild --bundle --format=iife --global-name=noble --minify).
export { blake3 } from "@noble/hashes/blake3";
export { sha256, sha512 } from "@noble/hashes/sha2";
export { ed25519 } from "@noble/curves/ed25519";
