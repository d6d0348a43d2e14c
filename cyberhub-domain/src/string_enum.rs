//! `string_enum!`: enums stored and sent as lower-case strings.

/// Declares an enum whose variants map to fixed strings (serde, `Display`, `FromStr`,
/// `as_str`, `ALL`). Unknown strings fail to parse with a message listing the choices.
macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
        #[cfg_attr(feature = "ts", derive(tsify::Tsify))]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $s)] #[cfg_attr(feature = "openapi", oai(rename = $s))] $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire and storage name.
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($s => Ok($name::$variant),)+
                    _ => Err(crate::Error::new(
                        crate::ErrorKind::Validation,
                        format!(
                            "\"{}\" is not a valid choice; expected one of: {}",
                            s.chars().take(64).collect::<String>(),
                            [$($s),+].join(", ")
                        ),
                    )),
                }
            }
        }
    };
}
