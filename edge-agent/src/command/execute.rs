//! Executing one [`WriteJob`] on a Modbus connection: read the old value, write, read the
//! new value back. Runs on the bus task that owns the connection (`poll/bus.rs`), between
//! two poll cycles, so a write never interleaves with another request on the wire.
//!
//! - A job whose dispatcher stopped waiting (reply closed: it timed out) is dropped without
//!   touching the device.
//! - Not connected: connect first (bounded by the device timeout); failing that, the job
//!   fails with the reason and nothing was written.
//! - The old value is read first. If that read fails with an exception the write is still
//!   attempted (some devices have write-only registers), with `old` unknown; a transport
//!   failure ends the job (connection dropped, nothing written).
//! - A bit of a holding register: the register read for the old value is the base of a
//!   read-modify-write (FC6); without it the write is refused (see the race in
//!   `protocols::modbus::write`).
//! - After the write, the value is read back; `new` is what the device holds now (a device
//!   may clamp or ignore a value; the result shows it).

use std::time::Duration;

use protocols::modbus::{
    DriverError, ModbusDriver, ReadData, WriteAction, decode_registers, read_of_tag, set_bit,
};
use protocols::model::Value;
use tokio::time::Instant;

use super::router::{WriteJob, WriteOutcome};

/// Executes `job` for `unit` on `driver` (whose timeout is already the device's).
pub async fn execute(driver: &mut ModbusDriver, unit: u8, job: WriteJob) {
    if job.reply.is_closed() {
        tracing::debug!(id = %job.id, "write abandoned by the dispatcher before it started; not executed");
        return;
    }
    let started = Instant::now();
    let outcome = run(driver, unit, &job).await;
    let outcome = WriteOutcome {
        took: started.elapsed(),
        ..outcome
    };
    let _ = job.reply.send(outcome);
}

async fn run(driver: &mut ModbusDriver, unit: u8, job: &WriteJob) -> WriteOutcome {
    let failed = |old: Option<Value>, reason: String| WriteOutcome {
        old,
        new: None,
        written: Err(reason),
        took: Duration::ZERO,
    };
    if !driver.is_connected()
        && let Err(e) = driver.connect().await
    {
        return failed(
            None,
            format!("device not reachable, nothing written: {}", e.reason()),
        );
    }
    let read = read_of_tag(&job.tag);
    let (old, old_word) = match driver.read(unit, &read).await {
        Ok(Ok(data)) => (value_of(job, &data), first_word(&data)),
        Ok(Err(exception)) => {
            tracing::debug!(id = %job.id, %exception, "old value not readable; writing anyway");
            (None, None)
        }
        Err(e) => return failed(None, transport("reading the old value", &e)),
    };
    let request = match &job.request {
        WriteAction::Request(r) => r.clone(),
        WriteAction::SetBit {
            address,
            bit,
            value,
        } => match old_word {
            Some(current) => set_bit(*address, current, *bit, *value),
            None => {
                return failed(
                    old,
                    "cannot read the register to change one bit; nothing written".to_owned(),
                );
            }
        },
    };
    match driver.write(unit, &request).await {
        Ok(Ok(())) => {}
        Ok(Err(exception)) => {
            return failed(old, format!("device refused the write: {exception}"));
        }
        Err(e) => {
            return failed(
                old,
                format!(
                    "{} (the device may or may not have applied it)",
                    transport("writing", &e)
                ),
            );
        }
    }
    let new = match driver.read(unit, &read).await {
        Ok(Ok(data)) => value_of(job, &data),
        Ok(Err(exception)) => {
            tracing::debug!(id = %job.id, %exception, "new value not readable");
            None
        }
        Err(e) => {
            tracing::debug!(id = %job.id, error = %e, "read-back failed after the write");
            None
        }
    };
    WriteOutcome {
        old,
        new,
        written: Ok(()),
        took: Duration::ZERO,
    }
}

fn transport(what: &str, e: &DriverError) -> String {
    format!("{what}: {}", e.reason())
}

fn value_of(job: &WriteJob, data: &ReadData) -> Option<Value> {
    match data {
        ReadData::Bits(bits) => bits.first().map(|&b| Value::Bool(b)),
        ReadData::Registers(words) => decode_registers(&job.tag, words).ok(),
    }
}

fn first_word(data: &ReadData) -> Option<u16> {
    match data {
        ReadData::Registers(words) => words.first().copied(),
        ReadData::Bits(_) => None,
    }
}
