//! The device emulator as a library (placeholder).
