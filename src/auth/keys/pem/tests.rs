use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys/", $name))
    };
}

#[test]
fn every_pem_form_of_a_simplejwt_deployment_is_read() {
    for (name, text, algorithm) in [
        ("PKCS#8 RSA", fixture!("rsa.pem"), JwtAlgorithm::RS256),
        ("traditional RSA", fixture!("rsa_traditional.pem"), JwtAlgorithm::PS512),
        ("PKCS#8 P-256", fixture!("p256.pem"), JwtAlgorithm::ES256),
        ("SEC1 P-256", fixture!("p256_sec1.pem"), JwtAlgorithm::ES256),
        ("SEC1 P-384", fixture!("p384_sec1.pem"), JwtAlgorithm::ES384),
        ("PKCS#8 Ed25519", fixture!("ed25519.pem"), JwtAlgorithm::EdDSA),
    ] {
        let key = PrivateKey::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(key.public().fits(algorithm), "{name}");
        let signer = crate::auth::keys::Signer::new(&key, algorithm).unwrap_or_else(|| panic!("{name}"));
        let signature = signer.sign(b"message").unwrap();
        let valid =
            jsonwebtoken::crypto::verify(&signature, b"message", &key.public().decoding_key(), algorithm.into());
        assert!(valid.unwrap(), "{name}");
    }
    let pairs = [
        (fixture!("rsa.pem"), fixture!("rsa.pub.pem")),
        (fixture!("rsa_traditional.pem"), fixture!("rsa_pkcs1.pub.pem")),
        (fixture!("p256_sec1.pem"), fixture!("p256.pub.pem")),
        (fixture!("p384_sec1.pem"), fixture!("p384.pub.pem")),
        (fixture!("ed25519.pem"), fixture!("ed25519.pub.pem")),
    ];
    for (private, public) in pairs {
        assert_eq!(
            PrivateKey::parse(private).unwrap().public(),
            PublicKey::parse(public).unwrap()
        );
    }
}

#[test]
fn wrong_kinds_of_text_are_named_without_echoing_them() {
    for (text, expected) in [
        (fixture!("encrypted.pem"), "encrypted"),
        (fixture!("rsa.pub.pem"), "public key where the private key"),
        ("not a key at all", "not a PEM private key"),
        (
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
            "cannot read",
        ),
    ] {
        let error = PrivateKey::parse(text).err().unwrap();
        assert!(error.contains(expected), "{error}");
        assert!(!error.contains("AAAA") && !error.contains("MII"), "{error}");
    }
    let error = PublicKey::parse(fixture!("rsa.pem")).unwrap_err();
    assert!(error.contains("private key where a public key"), "{error}");
}

#[test]
fn keys_fit_only_their_algorithms() {
    let rsa = PrivateKey::parse(fixture!("rsa.pem")).unwrap().public();
    let p256 = PrivateKey::parse(fixture!("p256.pem")).unwrap().public();
    let ed = PrivateKey::parse(fixture!("ed25519.pem")).unwrap().public();
    let small = PrivateKey::parse(fixture!("rsa1024.pem")).unwrap().public();
    assert!(rsa.fits(JwtAlgorithm::PS256) && !rsa.fits(JwtAlgorithm::ES256) && !rsa.fits(JwtAlgorithm::HS256));
    assert!(p256.fits(JwtAlgorithm::ES256) && !p256.fits(JwtAlgorithm::ES384) && !p256.fits(JwtAlgorithm::RS256));
    assert!(ed.fits(JwtAlgorithm::EdDSA) && !ed.fits(JwtAlgorithm::ES256));
    assert!(!small.fits(JwtAlgorithm::RS256), "1024-bit RSA is refused");
}

#[test]
fn thumbprints_follow_rfc_7638() {
    // RFC 7638 §3.1's example key and thumbprint.
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    let modulus = URL_SAFE_NO_PAD.decode(n).unwrap();
    let key = PublicKey::Rsa(
        RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(&modulus),
            rsa::BigUint::from_bytes_be(&[1, 0, 1]),
        )
        .unwrap(),
    );
    assert_eq!(key.thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

#[test]
fn generated_keys_read_back() {
    for algorithm in [JwtAlgorithm::EdDSA, JwtAlgorithm::ES256, JwtAlgorithm::ES384] {
        let key = PrivateKey::generate(algorithm, 0).unwrap();
        let again = PrivateKey::parse(&key.to_pem().unwrap()).unwrap();
        assert_eq!(again.public(), key.public());
        assert_eq!(PublicKey::parse(&key.public().to_pem().unwrap()).unwrap(), key.public());
        assert!(key.public().fits(algorithm));
    }
    assert!(PrivateKey::generate(JwtAlgorithm::RS256, 1024).is_err());
    assert!(PrivateKey::generate(JwtAlgorithm::HS256, 0).is_err());
}
