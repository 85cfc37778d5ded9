//! What the emulated device says about itself.

use serde::{Deserialize, Serialize};

/// The hardware and OS facts the device reports: in the enrollment request's
/// AdditionalContext, in package 1's DevInfo and in the DevDetail nodes.
///
/// [`DeviceFacts::default`] is the Windows 10 19043 VMware virtual machine of the real
/// capture in `tests/data/win10-19043/` (manufacturer `VMware, Inc.`, model `VMware7,1`,
/// OS `10.0.19043.2364`, device name `DESKTOP-28FGAI6`, OSEdition 72, six MAC addresses);
/// values the capture does not show (firmware, RAM, serial number...) are plausible values
/// of such a machine, marked in the field docs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeviceFacts {
    /// `./DevInfo/Man` (captured: `VMware, Inc.`).
    pub manufacturer: String,
    /// `./DevInfo/Mod` (captured: `VMware7,1`).
    pub model: String,
    /// `./DevInfo/DmV` (captured: `1.3`).
    pub dm_version: String,
    /// `./DevInfo/Lang` and the RST `Locale` (captured: `en-US`).
    pub language: String,
    /// `./DevDetail/SwV`, RST `OSVersion` and `ApplicationVersion` (captured:
    /// `10.0.19043.2364`).
    pub os_version: String,
    /// RST `OSEdition` (captured: `72`, PRODUCT_ENTERPRISE_EVALUATION).
    pub os_edition: String,
    /// `./DevDetail/Ext/Microsoft/OSPlatform` (matches OSEdition 72).
    pub os_platform: String,
    /// `./DevDetail/Ext/Microsoft/DeviceName` and RST `DeviceName` (captured:
    /// `DESKTOP-28FGAI6`).
    pub device_name: String,
    /// RST `MAC` items (captured: six).
    pub macs: Vec<String>,
    /// `./DevDetail/FwV` (not captured).
    pub firmware_version: String,
    /// `./DevDetail/HwV` (not captured).
    pub hardware_version: String,
    /// `./DevDetail/Ext/Microsoft/ProcessorArchitecture` (9 = x64).
    pub processor_architecture: String,
    /// `./DevDetail/Ext/Microsoft/TotalRAM` in MB (not captured).
    pub total_ram_mb: String,
    /// `./DevDetail/Ext/Microsoft/SMBIOSSerialNumber` (not captured; VMware form).
    pub serial_number: String,
}

impl Default for DeviceFacts {
    fn default() -> Self {
        DeviceFacts {
            manufacturer: "VMware, Inc.".to_owned(),
            model: "VMware7,1".to_owned(),
            dm_version: "1.3".to_owned(),
            language: "en-US".to_owned(),
            os_version: "10.0.19043.2364".to_owned(),
            os_edition: "72".to_owned(),
            os_platform: "Windows 10 Enterprise Evaluation".to_owned(),
            device_name: "DESKTOP-28FGAI6".to_owned(),
            macs: [
                "00-0C-29-51-60-9D",
                "1A-77-20-52-41-53",
                "1A-77-20-52-41-53",
                "00-0C-29-51-60-A7",
                "18-14-20-52-41-53",
                "00-0C-29-51-60-93",
            ]
            .map(str::to_owned)
            .to_vec(),
            firmware_version: "VMW71.00V.18452719.B64.2108091906".to_owned(),
            hardware_version: "None".to_owned(),
            processor_architecture: "9".to_owned(),
            total_ram_mb: "4096".to_owned(),
            serial_number: "VMware-56 4d 2a 6f 1b 3c 9e 7a-0d 51 60 9d 4e 2b 11 c7".to_owned(),
        }
    }
}

impl DeviceFacts {
    /// The (LocURI, value) pairs seeded into the tree for a device with `device_id`.
    pub fn tree_values(&self, device_id: &str) -> Vec<(String, String)> {
        let ms = "./DevDetail/Ext/Microsoft";
        [
            ("./DevInfo/DevId".to_owned(), device_id.to_owned()),
            ("./DevInfo/Man".to_owned(), self.manufacturer.clone()),
            ("./DevInfo/Mod".to_owned(), self.model.clone()),
            ("./DevInfo/DmV".to_owned(), self.dm_version.clone()),
            ("./DevInfo/Lang".to_owned(), self.language.clone()),
            ("./DevDetail/URI/MaxDepth".to_owned(), "32".to_owned()),
            ("./DevDetail/URI/MaxTotLen".to_owned(), "1024".to_owned()),
            ("./DevDetail/URI/MaxSegLen".to_owned(), "255".to_owned()),
            ("./DevDetail/DevTyp".to_owned(), self.model.clone()),
            ("./DevDetail/OEM".to_owned(), self.manufacturer.clone()),
            ("./DevDetail/FwV".to_owned(), self.firmware_version.clone()),
            ("./DevDetail/SwV".to_owned(), self.os_version.clone()),
            ("./DevDetail/HwV".to_owned(), self.hardware_version.clone()),
            ("./DevDetail/LrgObj".to_owned(), "true".to_owned()),
            (format!("{ms}/OSPlatform"), self.os_platform.clone()),
            (format!("{ms}/DeviceName"), self.device_name.clone()),
            (format!("{ms}/DNSComputerName"), self.device_name.clone()),
            (
                format!("{ms}/ProcessorArchitecture"),
                self.processor_architecture.clone(),
            ),
            (format!("{ms}/TotalRAM"), self.total_ram_mb.clone()),
            (
                format!("{ms}/SMBIOSSerialNumber"),
                self.serial_number.clone(),
            ),
            (
                format!("{ms}/LocalTime"),
                "2026-01-01T00:00:00.0000000-00:00".to_owned(),
            ),
        ]
        .into_iter()
        .collect()
    }
}
