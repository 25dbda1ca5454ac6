//! Response status codes (u16 on the wire).

macro_rules! statuses {
    ($($name:ident = $value:literal => $code:literal,)*) => {
        /// Every status code an upstream client can decode. Sending any other value makes the
        /// client fail to parse the header, so none other exists here.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u16)]
        #[non_exhaustive]
        pub enum Status { $($name = $value,)* }

        impl Status {
            /// All statuses, in value order.
            pub const ALL: &'static [Status] = &[$(Status::$name,)*];

            /// The status with this wire value, if any.
            pub fn from_u16(value: u16) -> Option<Status> {
                match value { $($value => Some(Status::$name),)* _ => None }
            }

            /// The upstream name of the status.
            pub const fn name(self) -> &'static str {
                match self { $(Status::$name => stringify!($name),)* }
            }

            /// The status's error code in Parsec.1 answers (its upstream name in snake case).
            /// Written out, not derived from the variant's name: it is part of the remote API.
            pub const fn remote_code(self) -> &'static str {
                match self { $(Status::$name => $code,)* }
            }

            /// The status whose Parsec.1 error code this is.
            pub fn from_remote_code(code: &str) -> Option<Status> {
                match code { $($code => Some(Status::$name),)* _ => None }
            }
        }
    };
}

statuses! {
    Success = 0 => "success",
    WrongProviderId = 1 => "wrong_provider_id",
    ContentTypeNotSupported = 2 => "content_type_not_supported",
    AcceptTypeNotSupported = 3 => "accept_type_not_supported",
    WireProtocolVersionNotSupported = 4 => "wire_protocol_version_not_supported",
    ProviderNotRegistered = 5 => "provider_not_registered",
    ProviderDoesNotExist = 6 => "provider_does_not_exist",
    DeserializingBodyFailed = 7 => "deserializing_body_failed",
    SerializingBodyFailed = 8 => "serializing_body_failed",
    OpcodeDoesNotExist = 9 => "opcode_does_not_exist",
    ResponseTooLarge = 10 => "response_too_large",
    AuthenticationError = 11 => "authentication_error",
    AuthenticatorDoesNotExist = 12 => "authenticator_does_not_exist",
    AuthenticatorNotRegistered = 13 => "authenticator_not_registered",
    KeyInfoManagerError = 14 => "key_info_manager_error",
    ConnectionError = 15 => "connection_error",
    InvalidEncoding = 16 => "invalid_encoding",
    InvalidHeader = 17 => "invalid_header",
    WrongProviderUuid = 18 => "wrong_provider_uuid",
    NotAuthenticated = 19 => "not_authenticated",
    BodySizeExceedsLimit = 20 => "body_size_exceeds_limit",
    AdminOperation = 21 => "admin_operation",
    DeprecatedPrimitive = 22 => "deprecated_primitive",
    PsaErrorGenericError = 1132 => "psa_error_generic_error",
    PsaErrorNotPermitted = 1133 => "psa_error_not_permitted",
    PsaErrorNotSupported = 1134 => "psa_error_not_supported",
    PsaErrorInvalidArgument = 1135 => "psa_error_invalid_argument",
    PsaErrorInvalidHandle = 1136 => "psa_error_invalid_handle",
    PsaErrorBadState = 1137 => "psa_error_bad_state",
    PsaErrorBufferTooSmall = 1138 => "psa_error_buffer_too_small",
    PsaErrorAlreadyExists = 1139 => "psa_error_already_exists",
    PsaErrorDoesNotExist = 1140 => "psa_error_does_not_exist",
    PsaErrorInsufficientMemory = 1141 => "psa_error_insufficient_memory",
    PsaErrorInsufficientStorage = 1142 => "psa_error_insufficient_storage",
    PsaErrorInsufficientData = 1143 => "psa_error_insufficient_data",
    PsaErrorCommunicationFailure = 1145 => "psa_error_communication_failure",
    PsaErrorStorageFailure = 1146 => "psa_error_storage_failure",
    PsaErrorHardwareFailure = 1147 => "psa_error_hardware_failure",
    PsaErrorInsufficientEntropy = 1148 => "psa_error_insufficient_entropy",
    PsaErrorInvalidSignature = 1149 => "psa_error_invalid_signature",
    PsaErrorInvalidPadding = 1150 => "psa_error_invalid_padding",
    PsaErrorCorruptionDetected = 1151 => "psa_error_corruption_detected",
    PsaErrorDataCorrupt = 1152 => "psa_error_data_corrupt",
    PsaErrorDataInvalid = 1153 => "psa_error_data_invalid",
}

impl Status {
    /// The value sent on the wire.
    pub const fn to_u16(self) -> u16 {
        self as u16
    }

    /// The status that carries the PSA Crypto error `psa_status` (a negative number):
    /// `1000 + |psa_status|`, when that is a known status.
    pub fn from_psa_status(psa_status: i32) -> Option<Status> {
        if psa_status >= 0 {
            return None;
        }
        let code = psa_status.unsigned_abs().checked_add(1000)?;
        Status::from_u16(u16::try_from(code).ok()?)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), self.to_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_gaps_are_refused() {
        assert_eq!(Status::ALL.len(), 44);
        for s in Status::ALL {
            assert_eq!(Status::from_u16(s.to_u16()), Some(*s));
        }
        for gap in [23u16, 999, 1000, 1131, 1144, 1154] {
            assert_eq!(Status::from_u16(gap), None, "{gap}");
        }
    }

    #[test]
    fn remote_codes_are_unique_snake_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for s in Status::ALL {
            let code = s.remote_code();
            assert!(seen.insert(code), "{code} twice");
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code}"
            );
            assert_eq!(Status::from_remote_code(code), Some(*s));
        }
        assert_eq!(
            Status::PsaErrorDoesNotExist.remote_code(),
            "psa_error_does_not_exist"
        );
        assert_eq!(Status::NotAuthenticated.remote_code(), "not_authenticated");
        assert_eq!(Status::from_remote_code("PsaErrorDoesNotExist"), None);
    }

    #[test]
    fn psa_statuses_map_by_offset() {
        assert_eq!(
            Status::from_psa_status(-140),
            Some(Status::PsaErrorDoesNotExist)
        );
        assert_eq!(
            Status::from_psa_status(-134),
            Some(Status::PsaErrorNotSupported)
        );
        assert_eq!(Status::from_psa_status(-144), None);
        assert_eq!(Status::from_psa_status(0), None);
    }
}
