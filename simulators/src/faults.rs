//! Faults injected on demand, per machine, independent of the protocol that serves it: the
//! Modbus service consults them on every request, the tick loop for freezing, and another
//! protocol's server can do the same.
//!
//! Commands (one per line on the control socket, or `--fault` at start; machines by index):
//!
//! ```text
//! delay <machine> <duration>                 answer every request after this long ("0s" ends it)
//! silence <machine>                          never answer (a dead unit on a bus)
//! disconnect <machine>                       never answer, and refuse new connections on its listener
//! exception <machine> <table> <start> <count> <code>
//!                                            reads touching start..start+count-1 of table
//!                                            (coil|discrete|input|holding) get exception <code>
//!                                            (e.g. 2: an exception-02 hole)
//! freeze <machine>                           stop updating its values (they keep the last tick)
//! clear <machine>|all                        remove every fault of the machine, or of all
//! ```
//!
//! Over OPC UA (`crate::opcua`) one endpoint serves every machine, so faults act on values:
//! `delay` samples the machine's values on time (source timestamp: the sample) but writes
//! them into the address space that much later, so Reads and subscriptions see them late;
//! `silence` publishes its values as BadNoCommunication, `freeze` stops them; `disconnect`
//! does that too and, since async-opcua cannot close chosen sessions, cuts every client
//! connection to the server and closes new ones while any machine is disconnected
//! (`crate::opcua`'s relay); `exception` has no OPC UA effect.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use crate::plant::RegisterKind;

/// A refused address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The table.
    pub kind: RegisterKind,
    /// First refused address.
    pub start: u16,
    /// Refused addresses (at least 1).
    pub count: u16,
    /// The exception code to answer.
    pub code: u8,
}

impl Refusal {
    /// Whether a read of `count` from `start` in `kind` touches this range.
    pub fn hits(&self, kind: RegisterKind, start: u16, count: u16) -> bool {
        let (s, e) = (u32::from(start), u32::from(start) + u32::from(count));
        let (rs, re) = (
            u32::from(self.start),
            u32::from(self.start) + u32::from(self.count),
        );
        kind == self.kind && s < re && rs < e
    }
}

/// The faults of one machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineFaults {
    /// Extra time before each answer.
    pub delay: Duration,
    /// Requests get no answer.
    pub silent: bool,
    /// Like `silent`, and its listener refuses new connections.
    pub disconnected: bool,
    /// Refused ranges.
    pub refusals: Vec<Refusal>,
    /// Values stop changing.
    pub frozen: bool,
}

impl MachineFaults {
    /// Whether requests are left unanswered.
    pub fn unanswered(&self) -> bool {
        self.silent || self.disconnected
    }

    /// The exception code for a read of `kind` `start..start+count`, if refused.
    pub fn refusal(&self, kind: RegisterKind, start: u16, count: u16) -> Option<u8> {
        self.refusals
            .iter()
            .find(|r| r.hits(kind, start, count))
            .map(|r| r.code)
    }
}

/// One parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `delay`.
    Delay(usize, Duration),
    /// `silence`.
    Silence(usize),
    /// `disconnect`.
    Disconnect(usize),
    /// `exception`.
    Exception(usize, Refusal),
    /// `freeze`.
    Freeze(usize),
    /// `clear <machine>`; `None` for `clear all`.
    Clear(Option<usize>),
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    /// Not a command, or wrong arguments.
    #[error("{0}")]
    Syntax(String),
    /// No such machine.
    #[error("no machine {machine} (the plant has {machines})")]
    Machine {
        /// The index given.
        machine: usize,
        /// Machines in the plant.
        machines: usize,
    },
}

fn syntax(msg: impl Into<String>) -> FaultError {
    FaultError::Syntax(msg.into())
}

fn number<T: std::str::FromStr>(word: Option<&str>, what: &str) -> Result<T, FaultError> {
    let word = word.ok_or_else(|| syntax(format!("missing {what}")))?;
    word.parse()
        .map_err(|_| syntax(format!("{what} {word:?} is not a valid number")))
}

impl Command {
    /// Parses one command line (see the module docs).
    pub fn parse(line: &str) -> Result<Self, FaultError> {
        let mut words = line.split_whitespace();
        let verb = words.next().ok_or_else(|| syntax("empty command"))?;
        let command = match verb {
            "delay" => {
                let machine = number(words.next(), "machine")?;
                let text = words.next().ok_or_else(|| syntax("missing duration"))?;
                let delay = humantime::parse_duration(text)
                    .map_err(|e| syntax(format!("duration {text:?}: {e}")))?;
                Self::Delay(machine, delay)
            }
            "silence" => Self::Silence(number(words.next(), "machine")?),
            "disconnect" => Self::Disconnect(number(words.next(), "machine")?),
            "freeze" => Self::Freeze(number(words.next(), "machine")?),
            "clear" => match words.next() {
                Some("all") => Self::Clear(None),
                other => Self::Clear(Some(number(other, "machine")?)),
            },
            "exception" => {
                let machine = number(words.next(), "machine")?;
                let kind = match words.next() {
                    Some("coil") => RegisterKind::Coil,
                    Some("discrete") => RegisterKind::Discrete,
                    Some("input") => RegisterKind::Input,
                    Some("holding") => RegisterKind::Holding,
                    other => {
                        return Err(syntax(format!(
                            "table {other:?}: expected coil, discrete, input or holding"
                        )));
                    }
                };
                let start = number(words.next(), "start")?;
                let count: u16 = number(words.next(), "count")?;
                let code: u8 = number(words.next(), "code")?;
                if count == 0 || code == 0 {
                    return Err(syntax("count and code must be at least 1"));
                }
                Self::Exception(
                    machine,
                    Refusal {
                        kind,
                        start,
                        count,
                        code,
                    },
                )
            }
            other => {
                return Err(syntax(format!(
                    "unknown command {other:?} (delay, silence, disconnect, exception, freeze, clear)"
                )));
            }
        };
        if let Some(extra) = words.next() {
            return Err(syntax(format!("unexpected {extra:?}")));
        }
        Ok(command)
    }

    fn machine(&self) -> Option<usize> {
        match *self {
            Self::Delay(m, _)
            | Self::Silence(m)
            | Self::Disconnect(m)
            | Self::Exception(m, _)
            | Self::Freeze(m)
            | Self::Clear(Some(m)) => Some(m),
            Self::Clear(None) => None,
        }
    }
}

/// The faults of every machine. Locks are held only to copy or change one entry.
#[derive(Debug, Default)]
pub struct Faults {
    machines: usize,
    by_machine: RwLock<HashMap<usize, MachineFaults>>,
}

impl Faults {
    /// No faults, for a plant of `machines` machines.
    pub fn new(machines: usize) -> Self {
        Self {
            machines,
            by_machine: RwLock::default(),
        }
    }

    /// Applies `command`.
    pub fn apply(&self, command: &Command) -> Result<(), FaultError> {
        if let Some(machine) = command.machine()
            && machine >= self.machines
        {
            return Err(FaultError::Machine {
                machine,
                machines: self.machines,
            });
        }
        let mut map = self
            .by_machine
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match *command {
            Command::Delay(m, d) => map.entry(m).or_default().delay = d,
            Command::Silence(m) => map.entry(m).or_default().silent = true,
            Command::Disconnect(m) => map.entry(m).or_default().disconnected = true,
            Command::Exception(m, r) => map.entry(m).or_default().refusals.push(r),
            Command::Freeze(m) => map.entry(m).or_default().frozen = true,
            Command::Clear(Some(m)) => {
                map.remove(&m);
            }
            Command::Clear(None) => map.clear(),
        }
        Ok(())
    }

    /// Parses and applies one command line.
    pub fn apply_line(&self, line: &str) -> Result<(), FaultError> {
        let command = Command::parse(line)?;
        self.apply(&command)?;
        tracing::info!(command = line.trim(), "fault applied");
        Ok(())
    }

    /// The faults of `machine` (none: the default).
    pub fn get(&self, machine: usize) -> MachineFaults {
        self.by_machine
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&machine)
            .cloned()
            .unwrap_or_default()
    }

    /// Whether `machine`'s values are frozen.
    pub fn is_frozen(&self, machine: usize) -> bool {
        self.by_machine
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&machine)
            .is_some_and(|f| f.frozen)
    }

    /// Whether any of `machines` is disconnected (its listener then refuses connections).
    pub fn any_disconnected(&self, mut machines: impl Iterator<Item = usize>) -> bool {
        let map = self
            .by_machine
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        machines.any(|m| map.get(&m).is_some_and(|f| f.disconnected))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_command_and_rejects_bad_ones() {
        assert_eq!(
            Command::parse("delay 3 250ms").unwrap(),
            Command::Delay(3, Duration::from_millis(250))
        );
        assert_eq!(Command::parse(" silence 1 ").unwrap(), Command::Silence(1));
        assert_eq!(Command::parse("clear all").unwrap(), Command::Clear(None));
        assert_eq!(
            Command::parse("exception 0 holding 10 2 2").unwrap(),
            Command::Exception(
                0,
                Refusal {
                    kind: RegisterKind::Holding,
                    start: 10,
                    count: 2,
                    code: 2
                }
            )
        );
        for bad in [
            "",
            "explode 1",
            "delay x 1s",
            "delay 1 soon",
            "exception 0 holdings 1 1 2",
            "exception 0 holding 1 0 2",
            "freeze 1 2",
        ] {
            assert!(Command::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn applies_and_clears_per_machine() {
        let faults = Faults::new(3);
        faults.apply_line("exception 1 input 5 1 2").unwrap();
        faults.apply_line("freeze 1").unwrap();
        faults.apply_line("silence 2").unwrap();
        assert_eq!(
            faults.apply_line("freeze 3"),
            Err(FaultError::Machine {
                machine: 3,
                machines: 3
            })
        );
        let f = faults.get(1);
        assert_eq!(f.refusal(RegisterKind::Input, 0, 5), None);
        assert_eq!(f.refusal(RegisterKind::Input, 0, 6), Some(2));
        assert_eq!(f.refusal(RegisterKind::Holding, 5, 1), None);
        assert!(faults.is_frozen(1) && !faults.is_frozen(0));
        assert!(faults.get(2).unanswered());
        faults.apply_line("clear 1").unwrap();
        assert_eq!(faults.get(1), MachineFaults::default());
        faults.apply_line("disconnect 0").unwrap();
        assert!(faults.any_disconnected(0..1));
        faults.apply_line("clear all").unwrap();
        assert!(!faults.get(2).unanswered());
    }
}
