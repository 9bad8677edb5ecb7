//! `imhotep keys generate`: a new key pair in PEM, so nobody needs openssl to start signing with a
//! public-key algorithm. Needs no configuration and touches no database.

use anyhow::bail;
use clap::Subcommand;

use crate::auth::keys::PrivateKey;
use crate::config::JwtAlgorithm;

/// What `imhotep keys` does.
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Print a new private key (PKCS#8 PEM) for simple_jwt.signing_key, keys.list or keys.dir.
    Generate {
        /// EdDSA (Ed25519), ES256, ES384, or an RSA algorithm (RS256, RS384, RS512, PS256, PS384, PS512).
        #[arg(long, default_value = "EdDSA")]
        algorithm: JwtAlgorithm,
        /// Print a ready-to-paste [[keys.list]] entry with this kid (use = "verify": switch it to
        /// "sign" once the key has been published long enough) instead of the bare PEM.
        #[arg(long)]
        kid: Option<String>,
        /// Also print the public key (for the services that verify, or for simple_jwt.verifying_key).
        #[arg(long)]
        public: bool,
        /// RSA modulus size in bits.
        #[arg(long, default_value_t = 2048)]
        bits: usize,
    },
}

/// Runs one `keys` action, printing to stdout.
pub fn run(action: KeysAction) -> anyhow::Result<()> {
    let KeysAction::Generate {
        algorithm,
        kid,
        public,
        bits,
    } = action;
    let key = PrivateKey::generate(algorithm, bits).map_err(anyhow::Error::msg)?;
    let private_pem = key.to_pem().map_err(anyhow::Error::msg)?;
    let public_pem = if public {
        Some(key.public().to_pem().map_err(anyhow::Error::msg)?)
    } else {
        None
    };
    match kid {
        None => {
            print!("{private_pem}");
            if let Some(pem) = public_pem {
                print!("{pem}");
            }
        }
        Some(kid) => {
            if kid.is_empty() || !kid.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c)) {
                bail!("--kid: use 1-128 letters, digits, '-', '_', '.' or ':'");
            }
            println!("[[keys.list]]");
            println!("kid = {kid:?}");
            println!("algorithm = {:?}", algorithm.name());
            println!("use = \"verify\"");
            println!("signing_key = '''\n{}'''", private_pem);
            if let Some(pem) = public_pem {
                println!("verifying_key = '''\n{pem}'''");
            }
        }
    }
    Ok(())
}
