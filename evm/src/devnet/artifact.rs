//! Loading the committed contract artifacts (`contracts/artifacts/<Name>.json`) and linking
//! library addresses into creation code, as contracts/README.md "Artifact format" describes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alloy::primitives::{Address as WireAddress, Bytes};
use serde::Deserialize;

use crate::EvmError;

/// The fields of an artifact the deployer needs; the ABI is not read (bindings are `sol!`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Artifact {
    #[serde(rename = "contractName")]
    pub name: String,
    /// Creation code, `0x`-prefixed, possibly with `__$…$__` library placeholders.
    pub bytecode: String,
    #[serde(default)]
    pub libraries: BTreeMap<String, LibraryRef>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct LibraryRef {
    pub placeholder: String,
    /// Byte offsets into the creation code (without `0x`).
    pub offsets: Vec<usize>,
}

/// Where the artifacts live.
#[derive(Debug, Clone)]
pub(crate) struct ArtifactDir {
    dir: PathBuf,
}

impl ArtifactDir {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
        }
    }

    pub fn load(&self, name: &str) -> Result<Artifact, EvmError> {
        let path = self.dir.join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path).map_err(|source| EvmError::Io {
            path: path.clone(),
            source,
        })?;
        let artifact: Artifact =
            serde_json::from_str(&text).map_err(|source| EvmError::Json { path, source })?;
        if artifact.name != name {
            return Err(artifact_error(
                name,
                format!("file names contract {}", artifact.name),
            ));
        }
        Ok(artifact)
    }
}

fn artifact_error(name: &str, reason: String) -> EvmError {
    EvmError::Artifact {
        name: name.to_owned(),
        reason,
    }
}

impl Artifact {
    /// The creation code with every library placeholder replaced by its address. Every library
    /// the artifact declares must be given, every offset must hold exactly the placeholder, and
    /// no placeholder may remain, so a stale artifact fails here rather than deploying junk.
    pub fn creation_code(&self, libraries: &[(&str, WireAddress)]) -> Result<Bytes, EvmError> {
        let mut hex_code = self
            .bytecode
            .strip_prefix("0x")
            .unwrap_or(&self.bytecode)
            .to_owned();
        for (lib, info) in &self.libraries {
            let address = libraries
                .iter()
                .find(|(n, _)| n == lib)
                .map(|(_, a)| *a)
                .ok_or_else(|| artifact_error(&self.name, format!("needs library {lib}")))?;
            let replacement = hex_lower(address);
            for &offset in &info.offsets {
                let range = offset * 2..offset * 2 + 40;
                if hex_code.get(range.clone()) != Some(info.placeholder.as_str()) {
                    return Err(artifact_error(
                        &self.name,
                        format!("no {lib} placeholder at byte offset {offset}"),
                    ));
                }
                hex_code.replace_range(range, &replacement);
            }
        }
        if hex_code.contains("__$") {
            return Err(artifact_error(
                &self.name,
                "unlinked library placeholder left".into(),
            ));
        }
        let code = alloy::hex::decode(&hex_code)
            .map_err(|e| artifact_error(&self.name, format!("bytecode is not hex: {e}")))?;
        if code.is_empty() {
            return Err(artifact_error(&self.name, "empty bytecode".into()));
        }
        Ok(code.into())
    }
}

fn hex_lower(address: WireAddress) -> String {
    alloy::hex::encode(address.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifacts() -> ArtifactDir {
        ArtifactDir::new(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/artifacts"))
    }

    #[test]
    fn fiat_token_links_signature_checker_at_both_offsets() {
        let fiat = artifacts().load("FiatTokenV2_2").unwrap();
        let lib = WireAddress::repeat_byte(0xab);
        let code = fiat.creation_code(&[("SignatureChecker", lib)]).unwrap();
        for offset in [18494usize, 20209] {
            assert_eq!(
                &code[offset..offset + 20],
                lib.as_slice(),
                "offset {offset}"
            );
        }
        assert_eq!(code.len() * 2 + 2, fiat.bytecode.len());
    }

    #[test]
    fn linking_without_the_library_fails() {
        let fiat = artifacts().load("FiatTokenV2_2").unwrap();
        let err = fiat.creation_code(&[]).unwrap_err();
        assert!(
            err.to_string().contains("needs library SignatureChecker"),
            "{err}"
        );
    }

    #[test]
    fn a_placeholder_at_the_wrong_offset_is_refused() {
        let mut fiat = artifacts().load("FiatTokenV2_2").unwrap();
        let info = fiat.libraries.get_mut("SignatureChecker").unwrap();
        info.offsets[0] += 1;
        let err = fiat
            .creation_code(&[("SignatureChecker", WireAddress::ZERO)])
            .unwrap_err();
        assert!(
            err.to_string().contains("placeholder at byte offset"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_artifact_names_the_file() {
        let err = artifacts().load("NoSuchContract").unwrap_err();
        assert!(err.to_string().contains("NoSuchContract.json"), "{err}");
    }
}
