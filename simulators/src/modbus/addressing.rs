//! Mapping between machine indices and Modbus (listener, unit id) pairs.
//!
//! A Modbus TCP endpoint addresses at most 247 units (ids 1..=247), so the
//! machines are spread over listeners: machine `i` is unit `i % 247 + 1` on
//! listener `i / 247`. Listener 0 binds the configured address; listener `k`
//! binds the same host on port `port + k` (or an ephemeral port when the
//! configured port is 0).

use std::net::SocketAddr;

/// Unit ids served per listener (1..=247).
pub const UNITS_PER_LISTENER: usize = 247;

/// Number of listeners needed for `machines` machines.
pub fn listener_count(machines: usize) -> usize {
    machines.div_ceil(UNITS_PER_LISTENER)
}

/// (listener index, unit id) of machine `machine`.
pub fn location(machine: usize) -> (usize, u8) {
    let unit = machine % UNITS_PER_LISTENER + 1;
    // `unit` is in 1..=247 by construction.
    let unit = u8::try_from(unit).unwrap_or(u8::MAX);
    (machine / UNITS_PER_LISTENER, unit)
}

/// Machine index served as `unit` on `listener`, if the unit id is a valid
/// single-device id (1..=247). The caller checks it against the plant size.
pub fn machine_index(listener: usize, unit: u8) -> Option<usize> {
    let unit = usize::from(unit);
    (1..=UNITS_PER_LISTENER)
        .contains(&unit)
        .then(|| listener * UNITS_PER_LISTENER + unit - 1)
}

/// Address listener `index` binds, given the configured `listen` address;
/// `None` if the port would exceed 65535.
pub fn listener_addr(listen: SocketAddr, index: usize) -> Option<SocketAddr> {
    let port = if listen.port() == 0 {
        0
    } else {
        u16::try_from(usize::from(listen.port()) + index).ok()?
    };
    Some(SocketAddr::new(listen.ip(), port))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn machines_map_to_listener_and_unit() {
        assert_eq!(location(0), (0, 1));
        assert_eq!(location(246), (0, 247));
        assert_eq!(location(247), (1, 1));
        assert_eq!(location(999), (4, 12));
        for machine in 0..1000 {
            let (listener, unit) = location(machine);
            assert_eq!(machine_index(listener, unit), Some(machine));
        }
        assert_eq!(machine_index(0, 0), None);
        assert_eq!(machine_index(0, 248), None);
        assert_eq!(listener_count(1), 1);
        assert_eq!(listener_count(247), 1);
        assert_eq!(listener_count(248), 2);
        assert_eq!(listener_count(1000), 5);
    }

    #[test]
    fn listener_ports() {
        let base: SocketAddr = "127.0.0.1:15020".parse().unwrap();
        assert_eq!(listener_addr(base, 0), Some(base));
        assert_eq!(
            listener_addr(base, 2),
            Some("127.0.0.1:15022".parse().unwrap())
        );
        let ephemeral: SocketAddr = "127.0.0.1:0".parse().unwrap();
        assert_eq!(listener_addr(ephemeral, 3), Some(ephemeral));
        let top: SocketAddr = "127.0.0.1:65535".parse().unwrap();
        assert_eq!(listener_addr(top, 1), None);
    }
}
