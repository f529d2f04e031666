#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
//! Test helpers: a temp dir, the `mesh` command and an EdDSA token minter.

use assert_cmd::Command;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use ring::signature::{Ed25519KeyPair, KeyPair as _};

pub fn mesh() -> Command {
    Command::cargo_bin("mesh").unwrap()
}

pub struct Issuer {
    pair: Ed25519KeyPair,
}

impl Issuer {
    pub fn new() -> Issuer {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        Issuer {
            pair: Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap(),
        }
    }

    pub fn jwks(&self) -> String {
        let x = B64URL.encode(self.pair.public_key().as_ref());
        format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"k1","alg":"EdDSA","x":"{x}"}}]}}"#
        )
    }

    pub fn token(&self, claims: serde_json::Value) -> String {
        let h = B64URL.encode(br#"{"alg":"EdDSA","kid":"k1","typ":"JWT"}"#);
        let p = B64URL.encode(claims.to_string());
        let input = format!("{h}.{p}");
        let sig = B64URL.encode(self.pair.sign(input.as_bytes()).as_ref());
        format!("{input}.{sig}")
    }
}
