//! Where a Modbus device is: the link (TCP, RTU over a serial line, RTU framed over TCP)
//! and the unit id on it. Several units may share one link (a serial bus, a gateway).

use std::fmt;
use std::time::Duration;

/// Parity of a serial line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Parity {
    /// No parity bit.
    None,
    /// Even parity (the Modbus serial default).
    #[default]
    Even,
    /// Odd parity.
    Odd,
}

impl Parity {
    /// Every parity.
    pub const ALL: [Self; 3] = [Self::None, Self::Even, Self::Odd];

    /// The configuration spelling: `none`, `even`, `odd`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Even => "even",
            Self::Odd => "odd",
        }
    }

    /// Parses [`Parity::as_str`] output.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// A serial line for Modbus RTU.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SerialLine {
    /// Device path, e.g. `/dev/ttyUSB0`.
    pub port: String,
    /// Bits per second.
    pub baud_rate: u32,
    /// Parity.
    pub parity: Parity,
    /// Data bits, 7 or 8.
    pub data_bits: u8,
    /// Stop bits, 1 or 2.
    pub stop_bits: u8,
    /// Silence kept before each request (the inter-frame delay).
    pub frame_gap: Duration,
}

impl SerialLine {
    /// The Modbus serial line spec's inter-frame delay: 3.5 character times, or a fixed
    /// 1.75 ms above 19200 baud (Modbus over serial line v1.02, 2.5.1.1).
    pub fn default_frame_gap(
        baud_rate: u32,
        parity: Parity,
        data_bits: u8,
        stop_bits: u8,
    ) -> Duration {
        if baud_rate > 19_200 || baud_rate == 0 {
            return Duration::from_micros(1750);
        }
        let bits =
            1 + u64::from(data_bits) + u64::from(parity != Parity::None) + u64::from(stop_bits);
        // 3.5 characters = 7 half characters.
        Duration::from_micros(bits * 7 * 1_000_000 / (2 * u64::from(baud_rate)))
    }
}

/// How the device's bytes travel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Link {
    /// Modbus TCP (MBAP header).
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// RTU frames (CRC, no MBAP) over a TCP connection, as serial-to-Ethernet converters do.
    RtuOverTcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// RTU frames on a serial line.
    Serial(SerialLine),
}

impl Link {
    /// The configuration's protocol name: `modbus-tcp`, `modbus-rtu-over-tcp`, `modbus-rtu`.
    pub fn protocol(&self) -> &'static str {
        match self {
            Link::Tcp { .. } => "modbus-tcp",
            Link::RtuOverTcp { .. } => "modbus-rtu-over-tcp",
            Link::Serial(_) => "modbus-rtu",
        }
    }

    /// Whether the link carries RTU frames (one request at a time, units addressed in turn).
    pub fn is_rtu(&self) -> bool {
        !matches!(self, Link::Tcp { .. })
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Link::Tcp { host, port } => write!(f, "{host}:{port}"),
            Link::RtuOverTcp { host, port } => write!(f, "rtu-over-tcp {host}:{port}"),
            Link::Serial(s) => write!(
                f,
                "{} {} {}{}{}",
                s.port,
                s.baud_rate,
                s.data_bits,
                s.parity
                    .as_str()
                    .chars()
                    .next()
                    .unwrap_or('n')
                    .to_ascii_uppercase(),
                s.stop_bits
            ),
        }
    }
}

/// One unit on a link.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The link.
    pub link: Link,
    /// Unit identifier (1..=247).
    pub unit_id: u8,
}

impl Endpoint {
    /// The `source` string of a tag's metadata: `{protocol}://{link}/{unit}/{kind}/{address}`
    /// with the protocol address (0-based), e.g. `modbus-tcp://10.0.0.5:502/1/holding/100`.
    pub fn source_url(&self, kind: super::RegisterKind, address: u16) -> String {
        let place = match &self.link {
            Link::Tcp { host, port } | Link::RtuOverTcp { host, port } => format!("{host}:{port}"),
            Link::Serial(s) => s.port.clone(),
        };
        format!(
            "{}://{place}/{}/{kind}/{address}",
            self.link.protocol(),
            self.unit_id
        )
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} unit {}", self.link, self.unit_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_gap_follows_the_serial_spec() {
        // 9600 8E1: 11 bits per character, 3.5 characters = 4.010 ms.
        assert_eq!(
            SerialLine::default_frame_gap(9600, Parity::Even, 8, 1),
            Duration::from_micros(4010)
        );
        // 19200 8N1: 10 bits, 1.822 ms.
        assert_eq!(
            SerialLine::default_frame_gap(19_200, Parity::None, 8, 1),
            Duration::from_micros(1822)
        );
        assert_eq!(
            SerialLine::default_frame_gap(115_200, Parity::None, 8, 1),
            Duration::from_micros(1750)
        );
    }

    #[test]
    fn names_and_urls() {
        let e = Endpoint {
            link: Link::RtuOverTcp {
                host: "gw".into(),
                port: 4001,
            },
            unit_id: 7,
        };
        assert_eq!(e.to_string(), "rtu-over-tcp gw:4001 unit 7");
        assert_eq!(
            e.source_url(super::super::RegisterKind::Input, 3),
            "modbus-rtu-over-tcp://gw:4001/7/input/3"
        );
        let s = Link::Serial(SerialLine {
            port: "/dev/ttyUSB0".into(),
            baud_rate: 9600,
            parity: Parity::Even,
            data_bits: 8,
            stop_bits: 1,
            frame_gap: Duration::ZERO,
        });
        assert_eq!(s.to_string(), "/dev/ttyUSB0 9600 8E1");
        assert_eq!(Parity::parse("odd"), Some(Parity::Odd));
    }
}
