//! Status and alert codes as open enums.

use std::fmt;

/// A SyncML status code (`Status/Data`).
///
/// An open enum: any `u16` is representable, so codes Windows adds later survive a
/// round trip; the named constants cover every code of OMA-DM 1.2 and MS-MDM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct StatusCode(pub u16);

impl StatusCode {
    /// 101: In progress.
    pub const IN_PROGRESS: Self = Self(101);
    /// 200: OK.
    pub const OK: Self = Self(200);
    /// 201: Item added.
    pub const ITEM_ADDED: Self = Self(201);
    /// 202: Accepted for processing (asynchronous Exec).
    pub const ACCEPTED: Self = Self(202);
    /// 203: Non-authoritative response.
    pub const NON_AUTHORITATIVE: Self = Self(203);
    /// 204: No content.
    pub const NO_CONTENT: Self = Self(204);
    /// 205: Reset content.
    pub const RESET_CONTENT: Self = Self(205);
    /// 206: Partial content.
    pub const PARTIAL_CONTENT: Self = Self(206);
    /// 207: Conflict resolved with merge.
    pub const CONFLICT_RESOLVED_WITH_MERGE: Self = Self(207);
    /// 208: Conflict resolved with client's command winning.
    pub const CONFLICT_RESOLVED_CLIENT_WINNING: Self = Self(208);
    /// 209: Conflict resolved with duplicate.
    pub const CONFLICT_RESOLVED_WITH_DUPLICATE: Self = Self(209);
    /// 210: Delete without archive.
    pub const DELETE_WITHOUT_ARCHIVE: Self = Self(210);
    /// 211: Item not deleted.
    pub const ITEM_NOT_DELETED: Self = Self(211);
    /// 212: Authentication accepted: no further credentials needed this session.
    pub const AUTHENTICATION_ACCEPTED: Self = Self(212);
    /// 213: Chunked item accepted and buffered (large object).
    pub const CHUNKED_ITEM_ACCEPTED: Self = Self(213);
    /// 214: Operation cancelled: no more commands processed.
    pub const OPERATION_CANCELLED: Self = Self(214);
    /// 215: Not executed (e.g. the user cancelled).
    pub const NOT_EXECUTED: Self = Self(215);
    /// 216: Atomic roll back OK.
    pub const ATOMIC_ROLLBACK_OK: Self = Self(216);
    /// 300: Multiple choices.
    pub const MULTIPLE_CHOICES: Self = Self(300);
    /// 301: Moved permanently.
    pub const MOVED_PERMANENTLY: Self = Self(301);
    /// 302: Found.
    pub const FOUND: Self = Self(302);
    /// 303: See other.
    pub const SEE_OTHER: Self = Self(303);
    /// 304: Not modified.
    pub const NOT_MODIFIED: Self = Self(304);
    /// 305: Use proxy.
    pub const USE_PROXY: Self = Self(305);
    /// 400: Bad request: malformed or invalid command.
    pub const BAD_REQUEST: Self = Self(400);
    /// 401: Invalid credentials (sent with a Chal).
    pub const INVALID_CREDENTIALS: Self = Self(401);
    /// 402: Payment required.
    pub const PAYMENT_REQUIRED: Self = Self(402);
    /// 403: Forbidden.
    pub const FORBIDDEN: Self = Self(403);
    /// 404: Not found.
    pub const NOT_FOUND: Self = Self(404);
    /// 405: Command not allowed (e.g. a write to a read-only node).
    pub const COMMAND_NOT_ALLOWED: Self = Self(405);
    /// 406: Optional feature not supported.
    pub const OPTIONAL_FEATURE_NOT_SUPPORTED: Self = Self(406);
    /// 407: Authentication required (sent with a Chal).
    pub const MISSING_CREDENTIALS: Self = Self(407);
    /// 408: Request timeout.
    pub const REQUEST_TIMEOUT: Self = Self(408);
    /// 409: Conflict.
    pub const CONFLICT: Self = Self(409);
    /// 410: Gone.
    pub const GONE: Self = Self(410);
    /// 411: Size required (large object without Size).
    pub const SIZE_REQUIRED: Self = Self(411);
    /// 412: Incomplete command.
    pub const INCOMPLETE_COMMAND: Self = Self(412);
    /// 413: Request entity too large.
    pub const REQUEST_ENTITY_TOO_LARGE: Self = Self(413);
    /// 414: URI too long.
    pub const URI_TOO_LONG: Self = Self(414);
    /// 415: Unsupported media type or format.
    pub const UNSUPPORTED_MEDIA_TYPE: Self = Self(415);
    /// 416: Requested size too big.
    pub const REQUESTED_SIZE_TOO_BIG: Self = Self(416);
    /// 417: Retry later.
    pub const RETRY_LATER: Self = Self(417);
    /// 418: Already exists.
    pub const ALREADY_EXISTS: Self = Self(418);
    /// 419: Conflict resolved with server data.
    pub const CONFLICT_RESOLVED_WITH_SERVER_DATA: Self = Self(419);
    /// 420: Device full.
    pub const DEVICE_FULL: Self = Self(420);
    /// 421: Unknown search grammar.
    pub const UNKNOWN_SEARCH_GRAMMAR: Self = Self(421);
    /// 422: Bad CGI script.
    pub const BAD_CGI_SCRIPT: Self = Self(422);
    /// 423: Soft-delete conflict.
    pub const SOFT_DELETE_CONFLICT: Self = Self(423);
    /// 424: Size mismatch (large object).
    pub const SIZE_MISMATCH: Self = Self(424);
    /// 425: Permission denied.
    pub const PERMISSION_DENIED: Self = Self(425);
    /// 426: Partial item not accepted.
    pub const PARTIAL_ITEM_NOT_ACCEPTED: Self = Self(426);
    /// 427: Item not empty.
    pub const ITEM_NOT_EMPTY: Self = Self(427);
    /// 428: Move failed.
    pub const MOVE_FAILED: Self = Self(428);
    /// 500: Command failed (generic; unmapped HRESULT on Windows).
    pub const COMMAND_FAILED: Self = Self(500);
    /// 501: Command not implemented.
    pub const COMMAND_NOT_IMPLEMENTED: Self = Self(501);
    /// 502: Bad gateway.
    pub const BAD_GATEWAY: Self = Self(502);
    /// 503: Service unavailable.
    pub const SERVICE_UNAVAILABLE: Self = Self(503);
    /// 504: Gateway timeout.
    pub const GATEWAY_TIMEOUT: Self = Self(504);
    /// 505: DTD version not supported.
    pub const DTD_VERSION_NOT_SUPPORTED: Self = Self(505);
    /// 506: Processing error.
    pub const PROCESSING_ERROR: Self = Self(506);
    /// 507: Atomic failed.
    pub const ATOMIC_FAILED: Self = Self(507);
    /// 508: Refresh required.
    pub const REFRESH_REQUIRED: Self = Self(508);
    /// 510: Data store failure.
    pub const DATA_STORE_FAILURE: Self = Self(510);
    /// 511: Server failure.
    pub const SERVER_FAILURE: Self = Self(511);
    /// 512: Synchronization failed.
    pub const SYNCHRONIZATION_FAILED: Self = Self(512);
    /// 513: Protocol version not supported.
    pub const PROTOCOL_VERSION_NOT_SUPPORTED: Self = Self(513);
    /// 514: Operation cancelled.
    pub const OPERATION_CANCELLED_BY_SERVER: Self = Self(514);
    /// 516: Atomic roll back failed.
    pub const ATOMIC_ROLLBACK_FAILED: Self = Self(516);
    /// 517: Atomic response too large to fit.
    pub const ATOMIC_RESPONSE_TOO_LARGE: Self = Self(517);

    /// The standard description of a named code, `None` for other values.
    pub fn description(self) -> Option<&'static str> {
        Some(match self.0 {
            101 => "In progress",
            200 => "OK",
            201 => "Item added",
            202 => "Accepted for processing (asynchronous Exec)",
            203 => "Non-authoritative response",
            204 => "No content",
            205 => "Reset content",
            206 => "Partial content",
            207 => "Conflict resolved with merge",
            208 => "Conflict resolved with client's command winning",
            209 => "Conflict resolved with duplicate",
            210 => "Delete without archive",
            211 => "Item not deleted",
            212 => "Authentication accepted: no further credentials needed this session",
            213 => "Chunked item accepted and buffered (large object)",
            214 => "Operation cancelled: no more commands processed",
            215 => "Not executed (e.g. the user cancelled)",
            216 => "Atomic roll back OK",
            300 => "Multiple choices",
            301 => "Moved permanently",
            302 => "Found",
            303 => "See other",
            304 => "Not modified",
            305 => "Use proxy",
            400 => "Bad request: malformed or invalid command",
            401 => "Invalid credentials (sent with a Chal)",
            402 => "Payment required",
            403 => "Forbidden",
            404 => "Not found",
            405 => "Command not allowed (e.g. a write to a read-only node)",
            406 => "Optional feature not supported",
            407 => "Authentication required (sent with a Chal)",
            408 => "Request timeout",
            409 => "Conflict",
            410 => "Gone",
            411 => "Size required (large object without Size)",
            412 => "Incomplete command",
            413 => "Request entity too large",
            414 => "URI too long",
            415 => "Unsupported media type or format",
            416 => "Requested size too big",
            417 => "Retry later",
            418 => "Already exists",
            419 => "Conflict resolved with server data",
            420 => "Device full",
            421 => "Unknown search grammar",
            422 => "Bad CGI script",
            423 => "Soft-delete conflict",
            424 => "Size mismatch (large object)",
            425 => "Permission denied",
            426 => "Partial item not accepted",
            427 => "Item not empty",
            428 => "Move failed",
            500 => "Command failed (generic; unmapped HRESULT on Windows)",
            501 => "Command not implemented",
            502 => "Bad gateway",
            503 => "Service unavailable",
            504 => "Gateway timeout",
            505 => "DTD version not supported",
            506 => "Processing error",
            507 => "Atomic failed",
            508 => "Refresh required",
            510 => "Data store failure",
            511 => "Server failure",
            512 => "Synchronization failed",
            513 => "Protocol version not supported",
            514 => "Operation cancelled",
            516 => "Atomic roll back failed",
            517 => "Atomic response too large to fit",
            _ => return None,
        })
    }

    /// The constant's name (`"OK"`), `None` for other values.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            101 => "IN_PROGRESS",
            200 => "OK",
            201 => "ITEM_ADDED",
            202 => "ACCEPTED",
            203 => "NON_AUTHORITATIVE",
            204 => "NO_CONTENT",
            205 => "RESET_CONTENT",
            206 => "PARTIAL_CONTENT",
            207 => "CONFLICT_RESOLVED_WITH_MERGE",
            208 => "CONFLICT_RESOLVED_CLIENT_WINNING",
            209 => "CONFLICT_RESOLVED_WITH_DUPLICATE",
            210 => "DELETE_WITHOUT_ARCHIVE",
            211 => "ITEM_NOT_DELETED",
            212 => "AUTHENTICATION_ACCEPTED",
            213 => "CHUNKED_ITEM_ACCEPTED",
            214 => "OPERATION_CANCELLED",
            215 => "NOT_EXECUTED",
            216 => "ATOMIC_ROLLBACK_OK",
            300 => "MULTIPLE_CHOICES",
            301 => "MOVED_PERMANENTLY",
            302 => "FOUND",
            303 => "SEE_OTHER",
            304 => "NOT_MODIFIED",
            305 => "USE_PROXY",
            400 => "BAD_REQUEST",
            401 => "INVALID_CREDENTIALS",
            402 => "PAYMENT_REQUIRED",
            403 => "FORBIDDEN",
            404 => "NOT_FOUND",
            405 => "COMMAND_NOT_ALLOWED",
            406 => "OPTIONAL_FEATURE_NOT_SUPPORTED",
            407 => "MISSING_CREDENTIALS",
            408 => "REQUEST_TIMEOUT",
            409 => "CONFLICT",
            410 => "GONE",
            411 => "SIZE_REQUIRED",
            412 => "INCOMPLETE_COMMAND",
            413 => "REQUEST_ENTITY_TOO_LARGE",
            414 => "URI_TOO_LONG",
            415 => "UNSUPPORTED_MEDIA_TYPE",
            416 => "REQUESTED_SIZE_TOO_BIG",
            417 => "RETRY_LATER",
            418 => "ALREADY_EXISTS",
            419 => "CONFLICT_RESOLVED_WITH_SERVER_DATA",
            420 => "DEVICE_FULL",
            421 => "UNKNOWN_SEARCH_GRAMMAR",
            422 => "BAD_CGI_SCRIPT",
            423 => "SOFT_DELETE_CONFLICT",
            424 => "SIZE_MISMATCH",
            425 => "PERMISSION_DENIED",
            426 => "PARTIAL_ITEM_NOT_ACCEPTED",
            427 => "ITEM_NOT_EMPTY",
            428 => "MOVE_FAILED",
            500 => "COMMAND_FAILED",
            501 => "COMMAND_NOT_IMPLEMENTED",
            502 => "BAD_GATEWAY",
            503 => "SERVICE_UNAVAILABLE",
            504 => "GATEWAY_TIMEOUT",
            505 => "DTD_VERSION_NOT_SUPPORTED",
            506 => "PROCESSING_ERROR",
            507 => "ATOMIC_FAILED",
            508 => "REFRESH_REQUIRED",
            510 => "DATA_STORE_FAILURE",
            511 => "SERVER_FAILURE",
            512 => "SYNCHRONIZATION_FAILED",
            513 => "PROTOCOL_VERSION_NOT_SUPPORTED",
            514 => "OPERATION_CANCELLED_BY_SERVER",
            516 => "ATOMIC_ROLLBACK_FAILED",
            517 => "ATOMIC_RESPONSE_TOO_LARGE",
            _ => return None,
        })
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u16> for StatusCode {
    fn from(v: u16) -> Self {
        Self(v)
    }
}

impl From<StatusCode> for u16 {
    fn from(v: StatusCode) -> u16 {
        v.0
    }
}

impl StatusCode {
    /// 2xx: the command succeeded (or was accepted).
    pub fn is_success(self) -> bool {
        (200..300).contains(&self.0)
    }
}

/// An OMA-DM alert code (`Alert/Data`).
///
/// An open enum: any `u16` is representable, so codes Windows adds later survive a
/// round trip; the named constants cover every code of OMA-DM 1.2 and MS-MDM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AlertCode(pub u16);

impl AlertCode {
    /// 1100: User interaction: display.
    pub const DISPLAY: Self = Self(1100);
    /// 1101: User interaction: continue or abort.
    pub const CONTINUE_OR_ABORT: Self = Self(1101);
    /// 1102: User interaction: text input.
    pub const TEXT_INPUT: Self = Self(1102);
    /// 1103: User interaction: single choice.
    pub const SINGLE_CHOICE: Self = Self(1103);
    /// 1104: User interaction: multiple choice.
    pub const MULTIPLE_CHOICE: Self = Self(1104);
    /// 1200: Server-initiated management session.
    pub const SERVER_INITIATED_MGMT: Self = Self(1200);
    /// 1201: Client-initiated management session.
    pub const CLIENT_INITIATED_MGMT: Self = Self(1201);
    /// 1222: Next message: send the next message of the package.
    pub const NEXT_MESSAGE: Self = Self(1222);
    /// 1223: Session abort.
    pub const SESSION_ABORT: Self = Self(1223);
    /// 1224: Client event (Windows: LoginStatus, AADUserToken, synctype, ...).
    pub const CLIENT_EVENT: Self = Self(1224);
    /// 1225: No end of data: a chunked large object was not completed.
    pub const NO_END_OF_DATA: Self = Self(1225);
    /// 1226: Generic alert (unenrollment, app install results, ...).
    pub const GENERIC_ALERT: Self = Self(1226);

    /// The standard description of a named code, `None` for other values.
    pub fn description(self) -> Option<&'static str> {
        Some(match self.0 {
            1100 => "User interaction: display",
            1101 => "User interaction: continue or abort",
            1102 => "User interaction: text input",
            1103 => "User interaction: single choice",
            1104 => "User interaction: multiple choice",
            1200 => "Server-initiated management session",
            1201 => "Client-initiated management session",
            1222 => "Next message: send the next message of the package",
            1223 => "Session abort",
            1224 => "Client event (Windows: LoginStatus, AADUserToken, synctype, ...)",
            1225 => "No end of data: a chunked large object was not completed",
            1226 => "Generic alert (unenrollment, app install results, ...)",
            _ => return None,
        })
    }

    /// The constant's name (`"OK"`), `None` for other values.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1100 => "DISPLAY",
            1101 => "CONTINUE_OR_ABORT",
            1102 => "TEXT_INPUT",
            1103 => "SINGLE_CHOICE",
            1104 => "MULTIPLE_CHOICE",
            1200 => "SERVER_INITIATED_MGMT",
            1201 => "CLIENT_INITIATED_MGMT",
            1222 => "NEXT_MESSAGE",
            1223 => "SESSION_ABORT",
            1224 => "CLIENT_EVENT",
            1225 => "NO_END_OF_DATA",
            1226 => "GENERIC_ALERT",
            _ => return None,
        })
    }
}

impl fmt::Display for AlertCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u16> for AlertCode {
    fn from(v: u16) -> Self {
        Self(v)
    }
}

impl From<AlertCode> for u16 {
    fn from(v: AlertCode) -> u16 {
        v.0
    }
}
