//! The Federated authentication page (MS-MDE2 §3.1.4.1.3 AuthenticationServiceUrl, and
//! the "web authentication broker" contract of Microsoft's federated enrollment guide).
//!
//! Windows opens the `AuthenticationServiceUrl` of the DiscoverResponse in its
//! enrollment window with `appru` (where to return) and `login_hint` (the user's
//! address) in the query. The page authenticates the user however the MDM likes and
//! ends by POSTing an HTML form field `wresult` (the security token) to `appru`; Windows
//! puts that token, base64, into the RST's BinarySecurityToken. This module writes the
//! two HTML documents of a minimal such page: a form asking for the token, and the
//! self-submitting form that hands it back. `appru` must be one of Windows's own
//! `ms-app://` addresses: anything else would make the page an open redirect.
//!
//! ```
//! use winmdm_enroll::webauth;
//! let page = webauth::token_form("ms-app://windows.immersivecontrolpanel", "user@contoso.com")?;
//! assert!(page.contains("name=\"token\""));
//! let back = webauth::return_form("ms-app://windows.immersivecontrolpanel", "eyJ0.eyJ1.c2ln")?;
//! assert!(back.contains("name=\"wresult\" value=\"eyJ0.eyJ1.c2ln\""));
//! assert!(webauth::return_form("https://evil.example/", "t").is_err());
//! # Ok::<(), webauth::WebAuthError>(())
//! ```

/// Why a page was not written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebAuthError {
    /// `appru` is not an `ms-app://` address.
    #[error("appru must be an ms-app:// address")]
    ReturnAddress,
    /// The token is empty or longer than [`MAX_TOKEN_LEN`].
    #[error("the token is empty or too long")]
    Token,
}

/// Longest token handed back (16 KiB, the crate's JWT limit).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn check_appru(appru: &str) -> Result<(), WebAuthError> {
    let ok = appru.starts_with("ms-app://") && !appru.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(WebAuthError::ReturnAddress)
    }
}

/// The sign-in page: a form that POSTs `appru` and the `token` back to the same URL.
pub fn token_form(appru: &str, login_hint: &str) -> Result<String, WebAuthError> {
    check_appru(appru)?;
    Ok(format!(
        "<!DOCTYPE html><html><head><title>Sign in</title></head><body>\
         <form method=\"post\"><p>Security token for {}</p>\
         <input type=\"hidden\" name=\"appru\" value=\"{}\">\
         <textarea name=\"token\" required></textarea><button>Enroll</button></form></body></html>",
        escape(login_hint),
        escape(appru)
    ))
}

/// The page that hands `token` back to Windows: a form POSTing `wresult` to `appru`,
/// submitted on load.
pub fn return_form(appru: &str, token: &str) -> Result<String, WebAuthError> {
    check_appru(appru)?;
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(WebAuthError::Token);
    }
    Ok(format!(
        "<!DOCTYPE html><html><body onload=\"document.forms[0].submit()\">\
         <form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"wresult\" value=\"{}\">\
         </form></body></html>",
        escape(appru),
        escape(token)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_only_ms_app_returns() {
        let p = token_form("ms-app://x", "<script>\"'&").unwrap();
        assert!(p.contains("&lt;script&gt;&quot;&#39;&amp;") && !p.contains("<script>"));
        assert_eq!(
            token_form("javascript:alert(1)", ""),
            Err(WebAuthError::ReturnAddress)
        );
        assert_eq!(
            return_form("ms-app://x\n", "t"),
            Err(WebAuthError::ReturnAddress)
        );
        assert_eq!(return_form("ms-app://x", "  "), Err(WebAuthError::Token));
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(return_form("ms-app://x", &long), Err(WebAuthError::Token));
        let b = return_form("ms-app://x", "a\"b").unwrap();
        assert!(b.contains("value=\"a&quot;b\""));
    }
}
