//! A [`GeoResolver`] over a MaxMind DB file (GeoIP2 / GeoLite2 City or Country), feature
//! `maxmind`: the `maxminddb` crate reads the file into memory once; each look-up is a walk of
//! its search tree.

use std::net::IpAddr;
use std::path::Path;

use crate::error::{Error, StorageError};
use crate::model::{GeoLocation, GeoResolver};

/// Locates IP addresses with a MaxMind DB (e.g. `GeoLite2-City.mmdb`): country code, first
/// subdivision and city, in English. Addresses the database does not cover, or that it cannot
/// decode, have no location.
pub struct MaxMindResolver {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for MaxMindResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaxMindResolver")
            .field("database_type", &self.reader.metadata().database_type)
            .finish()
    }
}

impl MaxMindResolver {
    /// Reads the database file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let reader = maxminddb::Reader::open_readfile(path)
            .map_err(|e| Error::Storage(StorageError::new("opening a MaxMind database", e)))?;
        Ok(Self { reader })
    }

    /// A database already in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, Error> {
        let reader = maxminddb::Reader::from_source(bytes)
            .map_err(|e| Error::Storage(StorageError::new("reading a MaxMind database", e)))?;
        Ok(Self { reader })
    }
}

impl GeoResolver for MaxMindResolver {
    fn locate(&self, ip: IpAddr) -> Option<GeoLocation> {
        let found = self.reader.lookup(ip).ok()?;
        let city: maxminddb::geoip2::City<'_> = found.decode().ok()??;
        let text = |s: Option<&str>| s.map(str::to_owned);
        let location = GeoLocation {
            country: text(city.country.iso_code),
            region: city
                .subdivisions
                .first()
                .and_then(|s| text(s.names.english)),
            city: text(city.city.names.english),
        };
        (location != GeoLocation::default()).then_some(location)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MaxMind DB data-section encoding of the few types the test database needs.
    enum V {
        Str(&'static str),
        U16(u16),
        U32(u32),
        U64(u64),
        Map(Vec<(&'static str, V)>),
        Array(Vec<V>),
    }

    fn control(out: &mut Vec<u8>, kind: u8, size: usize) {
        let size = u8::try_from(size).unwrap_or(0).min(28);
        if kind <= 7 {
            out.push((kind << 5) | size);
        } else {
            out.push(size);
            out.push(kind - 7);
        }
    }

    fn encode(value: &V, out: &mut Vec<u8>) {
        let uint = |out: &mut Vec<u8>, kind, n: u64| {
            let bytes: Vec<u8> = n
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            control(out, kind, bytes.len());
            out.extend(bytes);
        };
        match value {
            V::Str(s) => {
                control(out, 2, s.len());
                out.extend(s.as_bytes());
            }
            V::U16(n) => uint(out, 5, u64::from(*n)),
            V::U32(n) => uint(out, 6, u64::from(*n)),
            V::U64(n) => uint(out, 9, *n),
            V::Map(pairs) => {
                control(out, 7, pairs.len());
                for (key, value) in pairs {
                    encode(&V::Str(key), out);
                    encode(value, out);
                }
            }
            V::Array(items) => {
                control(out, 11, items.len());
                for item in items {
                    encode(item, out);
                }
            }
        }
    }

    fn names(en: &'static str) -> V {
        V::Map(vec![("names", V::Map(vec![("en", V::Str(en))]))])
    }

    /// An IPv4 database (24-bit records) holding one network, 203.0.113.0/24, in Auckland.
    fn tiny_database() -> Vec<u8> {
        const NODES: u32 = 24;
        let network = u32::from_be_bytes([203, 0, 113, 0]);
        let record = |out: &mut Vec<u8>, value: u32| out.extend(&value.to_be_bytes()[1..]);
        let mut file = Vec::new();
        for depth in 0..NODES {
            let bit = (network >> (31 - depth)) & 1;
            let next = if depth + 1 < NODES {
                depth + 1
            } else {
                NODES + 16 // the first byte of the data section
            };
            let (left, right) = if bit == 0 {
                (next, NODES)
            } else {
                (NODES, next)
            };
            record(&mut file, left);
            record(&mut file, right);
        }
        file.extend([0u8; 16]);
        encode(
            &V::Map(vec![
                ("country", V::Map(vec![("iso_code", V::Str("NZ"))])),
                ("subdivisions", V::Array(vec![names("Auckland Region")])),
                ("city", names("Auckland")),
            ]),
            &mut file,
        );
        file.extend(b"\xAB\xCD\xEFMaxMind.com");
        encode(
            &V::Map(vec![
                ("node_count", V::U32(NODES)),
                ("record_size", V::U16(24)),
                ("ip_version", V::U16(4)),
                ("database_type", V::Str("usermgmt-test-City")),
                ("languages", V::Array(vec![V::Str("en")])),
                ("binary_format_major_version", V::U16(2)),
                ("binary_format_minor_version", V::U16(0)),
                ("build_epoch", V::U64(1)),
                ("description", V::Map(vec![("en", V::Str("test"))])),
            ]),
            &mut file,
        );
        file
    }

    #[test]
    fn locates_addresses_the_database_covers() {
        let resolver = MaxMindResolver::from_bytes(tiny_database()).unwrap();
        let found = resolver.locate("203.0.113.7".parse().unwrap());
        assert_eq!(
            found,
            Some(GeoLocation {
                country: Some("NZ".into()),
                region: Some("Auckland Region".into()),
                city: Some("Auckland".into()),
            })
        );
        assert_eq!(resolver.locate("198.51.100.1".parse().unwrap()), None);
        assert_eq!(resolver.locate("::1".parse().unwrap()), None);
        assert!(MaxMindResolver::from_bytes(b"not a database".to_vec()).is_err());
    }
}
