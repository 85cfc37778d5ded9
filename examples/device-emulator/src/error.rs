//! The emulator's error type.

/// Why an emulator operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmuError {
    /// The enrollment server answered with a SOAP fault.
    #[error("SOAP fault {code}: {reason}")]
    Fault {
        /// The fault subcode (or code), e.g. `s:Authentication`, as written.
        code: String,
        /// The fault reason text.
        reason: String,
    },
    /// A server answered with an HTTP status the flow does not accept (and no SOAP
    /// fault).
    #[error("HTTP {status}: {body}")]
    Http {
        /// The HTTP status.
        status: u16,
        /// The response body (lossy UTF-8, shortened to 2 KiB).
        body: String,
        /// The `Retry-After` header in seconds, when the server sent one as a number (429,
        /// 503).
        retry_after: Option<u64>,
    },
    /// TLS set-up or handshake failed (roots, client certificate, server certificate).
    #[error("TLS: {0}")]
    Tls(String),
    /// Reading or writing the state directory, or the network, failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The management server refused the session: its Status for the device's
    /// `SyncHdr` was not a success (403 for a certificate that does not match the
    /// device, 401/407 after the last DM authentication attempt, ...). The state is
    /// saved.
    #[error("the server refused the session with status {status} (session {session_id})")]
    Refused {
        /// The server's last Status for the `SyncHdr`.
        status: u16,
        /// The session's `SessionID`.
        session_id: String,
    },
    /// A server sent something the protocol does not allow, or the HTTP exchange broke.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The server's SyncML message could not be decoded.
    #[error("SyncML from the server: {0}")]
    SyncMl(String),
    /// The device session engine refused a server message.
    #[error("OMA-DM session: {0}")]
    Session(#[from] winmdm_omadm::SessionError),
    /// An enrollment message could not be built or decoded.
    #[error("enrollment: {0}")]
    Enroll(String),
    /// A direct change to the tree was refused.
    #[error("tree: {0}")]
    Tree(#[from] crate::tree::TreeError),
    /// The device is not enrolled (never, or unenrolled since).
    #[error("the device in {0} is not enrolled")]
    NotEnrolled(String),
    /// The state directory holds no device, or a device state this version cannot read.
    #[error("state directory {dir}: {reason}")]
    State {
        /// The state directory.
        dir: String,
        /// What is wrong.
        reason: String,
    },
}

impl EmuError {
    pub(crate) fn http(status: u16, body: &[u8]) -> Self {
        Self::http_retry(status, body, None)
    }

    /// [`EmuError::Http`] with the response's `Retry-After` (delay-seconds form).
    pub(crate) fn http_retry(status: u16, body: &[u8], retry_after: Option<&str>) -> Self {
        let retry_after = retry_after.and_then(|v| v.trim().parse().ok());
        let mut s = String::from_utf8_lossy(body).into_owned();
        if s.len() > 2048 {
            let mut end = 2048;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
            s.push('…');
        }
        EmuError::Http {
            status,
            body: s,
            retry_after,
        }
    }
}
