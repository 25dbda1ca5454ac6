//! The command line: upstream parsec-tool's subcommands and flags, and ours.

use clap::{Args, CommandFactory, Parser, Subcommand};

/// Command-line interface to Parsec operations
#[derive(Debug, Parser)]
#[command(
    name = "parsec-tool",
    version,
    author = "Contributors to the Parsec project"
)]
pub struct ParsecToolApp {
    /// The ID of the provider to target for the command. Will use the default provider if not
    /// specified.
    #[arg(short = 'p', long = "provider", global = false)]
    pub provider: Option<u8>,

    /// The timeout time used for all commands in seconds. Will use the client's default if not
    /// specified. If set to 0, will not use any timeout and will block indefinitely.
    #[arg(short = 't', long = "timeout")]
    pub timeout: Option<u32>,

    /// Print results as JSON (one document on standard output), for scripts.
    #[arg(long = "json")]
    pub json: bool,

    /// A file holding a JWT from an identity provider, sent when the service lists the JWT
    /// authenticator (auth type 2); read again for every request. Without it, the JWT in
    /// PARSEC_AUTH_TOKEN or the file PARSEC_AUTH_TOKEN_FILE is sent; a JWT-SVID comes from the
    /// SPIFFE Workload API at SPIFFE_ENDPOINT_SOCKET.
    #[arg(long = "auth-token-file", value_name = "PATH")]
    pub auth_token_file: Option<std::path::PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// The name of a key.
#[derive(Debug, Args)]
pub struct KeyName {
    #[arg(short = 'k', long = "key-name")]
    pub key_name: String,
}

/// The fields of a Distinguished Name, and Subject Alternative Names.
#[derive(Debug, Args, Default)]
pub struct Subject {
    /// The common name to be used within the Distinguished Name (DN) specification.
    #[arg(long = "cn")]
    pub common_name: Option<String>,
    /// The locality name to be used within the DN.
    #[arg(long = "l")]
    pub locality: Option<String>,
    /// The organization name to be used within the DN.
    #[arg(long = "o")]
    pub organization: Option<String>,
    /// The organizational unit name to be used within the DN.
    #[arg(long = "ou")]
    pub organizational_unit: Option<String>,
    /// The state name to be used within the DN.
    #[arg(long = "st")]
    pub state: Option<String>,
    /// The country name to be used within the DN.
    #[arg(long = "c")]
    pub country: Option<String>,
    /// The serial number to be used within the DN.
    #[arg(long = "serialNumber")]
    pub serial_number: Option<String>,
    /// Subject Alternative Names (DNS names, or IP addresses).
    #[arg(long = "san", num_args = 1.., action = clap::ArgAction::Append)]
    pub subject_alternative_name: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ping the Parsec service and prints the wire protocol version.
    Ping,
    /// List the available providers supported by the Parsec service.
    ListProviders,
    /// List the available authenticators supported by the Parsec service.
    ListAuthenticators,
    /// List the supported opcodes for a given provider.
    ListOpcodes {
        /// ID of the provider.
        #[arg(short = 'p', long = "provider")]
        provider: Option<u8>,
    },
    /// List all keys belonging to the application.
    ListKeys {
        /// Only the keys whose names match (`*` any run of characters but `/`, `**` any run,
        /// `?` one character but `/`, `\` quotes the next one).
        #[arg(long = "pattern")]
        pattern: Option<String>,
    },
    /// Generate a sequence of random bytes.
    GenerateRandom {
        #[arg(short = 'n', long = "nbytes")]
        nbytes: usize,
    },
    /// Export the public part of the key pair in PEM format
    ExportPublicKey {
        #[command(flatten)]
        key: KeyName,
        /// Export RSA Public Key in PKCS#1 format.
        #[arg(long = "pkcs1")]
        pkcs1: bool,
    },
    /// Create a RSA key pair (2048 bits). Used by default for asymmetric encryption with RSA
    /// PKCS#1 v1.5.
    CreateRsaKey {
        #[command(flatten)]
        key: KeyName,
        /// Create a signing key (PKCS#1 v1.5 with SHA-256) instead of an encryption key. Has
        /// priority over --for-signing-pss.
        #[arg(short = 's', long = "for-signing")]
        for_signing: bool,
        /// Create a signing key with the PSS scheme and SHA-256.
        #[arg(short = 'r', long = "for-signing-pss")]
        for_signing_pss: bool,
        /// The size (strength) of the key in bits (default 2048).
        #[arg(short = 'b', long = "bits")]
        bits: Option<u32>,
        /// Permit RSA OAEP (SHA-256) encryption instead of PKCS#1 v1.5.
        #[arg(short = 'o', long = "oaep")]
        oaep: bool,
    },
    /// Create a ECC key pair (curve secp256r1). Used by default for asymmetric signing with
    /// ECDSA (SHA-256).
    CreateEccKey {
        #[command(flatten)]
        key: KeyName,
    },
    /// Decrypt data using the algorithm of the key
    Decrypt {
        #[command(flatten)]
        key: KeyName,
        /// Ciphertext base64 encoded
        input_data: String,
    },
    /// Sign data using the algorithm of the key (base64 signature)
    Sign {
        #[command(flatten)]
        key: KeyName,
        /// String of UTF-8 text
        input_data: String,
    },
    /// Verify a signature made by `sign` (exit status 0 when it is valid)
    Verify {
        #[command(flatten)]
        key: KeyName,
        /// The signature, base64 encoded (as `sign` prints it)
        #[arg(long = "signature")]
        signature: String,
        /// String of UTF-8 text
        input_data: String,
    },
    /// Delete a key.
    DeleteKey {
        #[command(flatten)]
        key: KeyName,
    },
    /// Lists all clients currently having data in the service (admin operation).
    ListClients,
    /// Delete all data a client has in the service (admin operation).
    DeleteClient {
        #[arg(short = 'c', long = "client")]
        client: String,
    },
    /// Create a Certificate Signing Request (CSR) from a keypair.
    CreateCsr {
        #[command(flatten)]
        key: KeyName,
        #[command(flatten)]
        subject: Subject,
    },
    /// Create a self-signed X.509 certificate for a key pair, signed by the service.
    CreateCertificate {
        #[command(flatten)]
        key: KeyName,
        #[command(flatten)]
        subject: Subject,
        /// Days of validity from now.
        #[arg(long = "days", default_value_t = 365)]
        days: u32,
    },
    /// Encrypt data using the algorithm of the key
    Encrypt {
        #[command(flatten)]
        key: KeyName,
        /// Plaintext input string.
        input_data: String,
    },
    /// Import a key from a PEM or DER file: a public key (SubjectPublicKeyInfo or PKCS#1) or a
    /// private key (PKCS#8, PKCS#1 RSA or SEC 1 EC).
    ImportKey {
        #[command(flatten)]
        key: KeyName,
        /// The file with the key.
        #[arg(short = 'f', long = "file")]
        file: std::path::PathBuf,
        /// RSA: a signing key (PKCS#1 v1.5, SHA-256) rather than an encryption key.
        #[arg(short = 's', long = "for-signing")]
        for_signing: bool,
        /// RSA: a signing key with PSS (SHA-256).
        #[arg(short = 'r', long = "for-signing-pss")]
        for_signing_pss: bool,
        /// RSA: encryption with OAEP (SHA-256) rather than PKCS#1 v1.5.
        #[arg(short = 'o', long = "oaep")]
        oaep: bool,
    },
    /// Parsec.1 service contracts on the Universa network (Parsec 1.2 and 1.3): make, revise,
    /// inspect and check them. Registering one on the network is done with Universa's own
    /// tools (it costs U); see the README.
    #[command(subcommand)]
    Parsec1(Parsec1Command),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// What a service contract's parsec section says; unset fields of a revision keep the
/// previous revision's.
#[derive(Debug, Args, Default)]
pub struct SectionArgs {
    /// A service key address (Safe58, long) clients may trust; repeat for several. Default
    /// for a new contract: the key of the service at PARSEC_SERVICE_ENDPOINT (from its info).
    #[arg(long = "service-key", num_args = 1.., action = clap::ArgAction::Append)]
    pub service_keys: Vec<String>,
    /// A service key address trusted by test-mode clients only; repeat for several.
    #[arg(long = "test-key", num_args = 1.., action = clap::ArgAction::Append)]
    pub test_keys: Vec<String>,
    /// An http:// URL of the service's Parsec.1 endpoint (IP hosts); repeat for several, in
    /// the order clients try them. Default for a new contract: PARSEC_SERVICE_ENDPOINT.
    #[arg(long = "url", num_args = 1.., action = clap::ArgAction::Append)]
    pub urls: Vec<String>,
    /// An https:// URL of the endpoint; repeat for several.
    #[arg(long = "https-url", num_args = 1.., action = clap::ArgAction::Append)]
    pub https_urls: Vec<String>,
    /// The service's name (default for a new contract: the service's own, from its info).
    #[arg(long = "service-name")]
    pub service_name: Option<String>,
    /// A short name.
    #[arg(long = "short-name")]
    pub short_name: Option<String>,
    /// A description.
    #[arg(long = "description")]
    pub description: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Parsec1Command {
    /// Make an RSA key for an issuer or owner of contracts (a Universa `.unikey` file, mode
    /// 0600); prints its long address.
    CreateKey {
        /// The key file to write (refused if it exists).
        #[arg(long = "out")]
        out: std::path::PathBuf,
        /// RSA modulus size: 2048, 3072 or 4096.
        #[arg(long = "bits", default_value_t = 4096)]
        bits: usize,
    },
    /// Make a service contract (or, with --uns2-name, a UNS2 name contract) for a service,
    /// signed by the issuer key: its owner may revise the parsec section later.
    CreateContract {
        /// The issuer's key (`.unikey`).
        #[arg(long = "issuer-key")]
        issuer_key: std::path::PathBuf,
        /// The owner's long address (default: the issuer key's).
        #[arg(long = "owner")]
        owner: Option<String>,
        /// Make a UNS2 name contract holding this name (Parsec 1.3).
        #[arg(long = "uns2-name")]
        uns2_name: Option<String>,
        /// Days until the contract expires.
        #[arg(long = "expires-days", default_value_t = 365)]
        expires_days: u64,
        #[command(flatten)]
        section: SectionArgs,
        /// The contract file to write (refused if it exists).
        #[arg(long = "out")]
        out: std::path::PathBuf,
    },
    /// Make the next revision of a contract (rotate keys or URLs), signed by its owner.
    ReviseContract {
        /// The current revision.
        #[arg(long = "contract")]
        contract: std::path::PathBuf,
        /// The owner's key (`.unikey`).
        #[arg(long = "owner-key")]
        owner_key: std::path::PathBuf,
        #[command(flatten)]
        section: SectionArgs,
        /// The revision file to write (refused if it exists).
        #[arg(long = "out")]
        out: std::path::PathBuf,
    },
    /// Show a contract file: HashId, origin, revision, signers, parsec section, UNS2 names.
    Inspect {
        /// A sealed contract or a TransactionPack.
        file: std::path::PathBuf,
    },
    /// Check a contract file as clients do: signatures, roles, parsec section, and its state
    /// on the Universa network (APPROVED by the quorum).
    Check {
        /// A sealed contract or a TransactionPack.
        file: std::path::PathBuf,
        /// The node list (default: UNIVERSA_TOPOLOGY, else the built-in mainnet list).
        #[arg(long = "topology")]
        topology: Option<std::path::PathBuf>,
        /// The share of nodes whose APPROVED answer is needed (default: UNIVERSA_TRUST_LEVEL,
        /// else 0.5).
        #[arg(long = "trust")]
        trust: Option<f64>,
    },
}

impl Command {
    /// Whether the command needs the caller's identity (upstream's "naked" client serves the
    /// others).
    pub fn needs_identity(&self) -> bool {
        !matches!(
            self,
            Command::Ping
                | Command::ListProviders
                | Command::ListAuthenticators
                | Command::ListOpcodes { .. }
                | Command::Parsec1(_)
                | Command::Completions { .. }
        )
    }
}

pub fn print_completions(shell: clap_complete::Shell) {
    let mut command = ParsecToolApp::command();
    clap_complete::generate(shell, &mut command, "parsec-tool", &mut std::io::stdout());
}
