//! Response status codes (u16 on the wire).

macro_rules! statuses {
    ($($name:ident = $value:literal,)*) => {
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
        }
    };
}

statuses! {
    Success = 0,
    WrongProviderId = 1,
    ContentTypeNotSupported = 2,
    AcceptTypeNotSupported = 3,
    WireProtocolVersionNotSupported = 4,
    ProviderNotRegistered = 5,
    ProviderDoesNotExist = 6,
    DeserializingBodyFailed = 7,
    SerializingBodyFailed = 8,
    OpcodeDoesNotExist = 9,
    ResponseTooLarge = 10,
    AuthenticationError = 11,
    AuthenticatorDoesNotExist = 12,
    AuthenticatorNotRegistered = 13,
    KeyInfoManagerError = 14,
    ConnectionError = 15,
    InvalidEncoding = 16,
    InvalidHeader = 17,
    WrongProviderUuid = 18,
    NotAuthenticated = 19,
    BodySizeExceedsLimit = 20,
    AdminOperation = 21,
    DeprecatedPrimitive = 22,
    PsaErrorGenericError = 1132,
    PsaErrorNotPermitted = 1133,
    PsaErrorNotSupported = 1134,
    PsaErrorInvalidArgument = 1135,
    PsaErrorInvalidHandle = 1136,
    PsaErrorBadState = 1137,
    PsaErrorBufferTooSmall = 1138,
    PsaErrorAlreadyExists = 1139,
    PsaErrorDoesNotExist = 1140,
    PsaErrorInsufficientMemory = 1141,
    PsaErrorInsufficientStorage = 1142,
    PsaErrorInsufficientData = 1143,
    PsaErrorCommunicationFailure = 1145,
    PsaErrorStorageFailure = 1146,
    PsaErrorHardwareFailure = 1147,
    PsaErrorInsufficientEntropy = 1148,
    PsaErrorInvalidSignature = 1149,
    PsaErrorInvalidPadding = 1150,
    PsaErrorCorruptionDetected = 1151,
    PsaErrorDataCorrupt = 1152,
    PsaErrorDataInvalid = 1153,
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
