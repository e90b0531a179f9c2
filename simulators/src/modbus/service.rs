//! One Modbus request, one response: the tokio-modbus `Service` that serves
//! the machines of one listener from the [`ImageStore`].
//!
//! Supported: FC1/2/3/4 reads and FC5/6/15/16 writes to coils and holding
//! registers. Exceptions: unknown unit id -> 0x0B (gateway target device
//! failed to respond); quantity 0 or above the protocol limit -> 0x03;
//! range outside the 512-entry bank -> 0x02; other functions -> 0x01.
//! Requests to unit 0 (broadcast) are ignored without a response.
//!
//! Injected faults ([`Faults`]) apply per machine before any of that: a silenced or
//! disconnected machine gets no answer, a refused range answers its exception code, and a
//! delay holds the answer back.
//!
//! With a [`ServedLog`] every read answered with data is recorded once its answer is handed
//! to the connection (after the delay).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

use super::addressing::machine_index;
use super::store::ImageStore;
use crate::faults::Faults;
use crate::plant::RegisterKind;
use crate::served::ServedLog;

/// Most registers per read (FC3/FC4).
const MAX_READ_REGISTERS: u16 = 125;
/// Most bits per read (FC1/FC2).
const MAX_READ_BITS: u16 = 2000;
/// Most registers per write (FC16).
const MAX_WRITE_REGISTERS: u16 = 123;
/// Most coils per write (FC15).
const MAX_WRITE_BITS: u16 = 1968;

/// Serves the units of listener `listener`.
#[derive(Debug, Clone)]
pub struct PlantService {
    store: Arc<ImageStore>,
    faults: Arc<Faults>,
    listener: usize,
    served: Option<Arc<ServedLog>>,
}

impl PlantService {
    /// A service answering for the machines on listener `listener`.
    pub fn new(store: Arc<ImageStore>, faults: Arc<Faults>, listener: usize) -> Self {
        Self {
            store,
            faults,
            listener,
            served: None,
        }
    }

    /// Records every answered read in `log`.
    #[must_use]
    pub fn with_served_log(mut self, log: Option<Arc<ServedLog>>) -> Self {
        self.served = log;
        self
    }

    /// The injected delay for a request to `slave`.
    fn delay(&self, slave: u8) -> Duration {
        machine_index(self.listener, slave).map_or(Duration::ZERO, |m| self.faults.get(m).delay)
    }

    /// Handles one request; `Ok(None)` means send nothing.
    pub fn handle(&self, request: SlaveRequest<'_>) -> Result<Option<Response>, ExceptionCode> {
        let SlaveRequest { slave, request } = request;
        if slave == 0 {
            tracing::trace!("ignoring broadcast request");
            return Ok(None);
        }
        let machine = machine_index(self.listener, slave)
            .filter(|&m| m < self.store.machine_count())
            .ok_or(ExceptionCode::GatewayTargetDevice)?;
        let faults = self.faults.get(machine);
        if faults.unanswered() {
            tracing::trace!(machine, "fault: not answering");
            return Ok(None);
        }
        if let Some(code) = read_range(&request).and_then(|(kind, a, n)| faults.refusal(kind, a, n))
        {
            return Err(ExceptionCode::new(code));
        }
        let response = match request {
            Request::ReadCoils(address, count) => {
                Response::ReadCoils(self.read_bits(machine, RegisterKind::Coil, address, count)?)
            }
            Request::ReadDiscreteInputs(address, count) => Response::ReadDiscreteInputs(
                self.read_bits(machine, RegisterKind::Discrete, address, count)?,
            ),
            Request::ReadHoldingRegisters(address, count) => Response::ReadHoldingRegisters(
                self.read_registers(machine, RegisterKind::Holding, address, count)?,
            ),
            Request::ReadInputRegisters(address, count) => Response::ReadInputRegisters(
                self.read_registers(machine, RegisterKind::Input, address, count)?,
            ),
            Request::WriteSingleCoil(address, value) => {
                self.write(machine, address, 1, 1, |img| {
                    img.write_coils(address, &[value])
                })?;
                Response::WriteSingleCoil(address, value)
            }
            Request::WriteMultipleCoils(address, values) => {
                let count = quantity(values.len())?;
                self.write(machine, address, count, MAX_WRITE_BITS, |img| {
                    img.write_coils(address, &values)
                })?;
                Response::WriteMultipleCoils(address, count)
            }
            Request::WriteSingleRegister(address, value) => {
                self.write(machine, address, 1, 1, |img| {
                    img.write_holding(address, &[value])
                })?;
                Response::WriteSingleRegister(address, value)
            }
            Request::WriteMultipleRegisters(address, values) => {
                let count = quantity(values.len())?;
                self.write(machine, address, count, MAX_WRITE_REGISTERS, |img| {
                    img.write_holding(address, &values)
                })?;
                Response::WriteMultipleRegisters(address, count)
            }
            _ => return Err(ExceptionCode::IllegalFunction),
        };
        Ok(Some(response))
    }

    fn read_bits(
        &self,
        machine: usize,
        kind: RegisterKind,
        address: u16,
        count: u16,
    ) -> Result<Vec<bool>, ExceptionCode> {
        check_quantity(count, MAX_READ_BITS)?;
        let image = self
            .store
            .snapshot(machine)
            .ok_or(ExceptionCode::GatewayTargetDevice)?;
        image
            .bits(kind, address, count)
            .map(<[bool]>::to_vec)
            .ok_or(ExceptionCode::IllegalDataAddress)
    }

    fn read_registers(
        &self,
        machine: usize,
        kind: RegisterKind,
        address: u16,
        count: u16,
    ) -> Result<Vec<u16>, ExceptionCode> {
        check_quantity(count, MAX_READ_REGISTERS)?;
        let image = self
            .store
            .snapshot(machine)
            .ok_or(ExceptionCode::GatewayTargetDevice)?;
        image
            .registers(kind, address, count)
            .map(<[u16]>::to_vec)
            .ok_or(ExceptionCode::IllegalDataAddress)
    }

    fn write(
        &self,
        machine: usize,
        address: u16,
        count: u16,
        max: u16,
        apply: impl FnOnce(&mut crate::plant::RegisterImage) -> bool,
    ) -> Result<(), ExceptionCode> {
        check_quantity(count, max)?;
        let written = self
            .store
            .modify(machine, apply)
            .ok_or(ExceptionCode::GatewayTargetDevice)?;
        if written {
            tracing::debug!(machine, address, count, "register write");
            Ok(())
        } else {
            Err(ExceptionCode::IllegalDataAddress)
        }
    }
}

impl tokio_modbus::server::Service for PlantService {
    type Request = SlaveRequest<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Exception>> + Send>>;

    fn call(&self, request: Self::Request) -> Self::Future {
        let delay = self.delay(request.slave);
        let read = read_range(&request.request);
        let machine = machine_index(self.listener, request.slave);
        let result = self.handle(request);
        let served = match (&self.served, &result, read, machine) {
            (Some(log), Ok(Some(_)), Some(read), Some(machine)) => {
                Some((Arc::clone(log), machine, read))
            }
            _ => None,
        };
        Box::pin(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if let Some((log, machine, (table, address, count))) = served {
                log.record(machine, table, address, count);
            }
            result
        })
    }
}

/// The table and range of a read request; `None` for anything else.
fn read_range(request: &Request<'_>) -> Option<(RegisterKind, u16, u16)> {
    match request {
        Request::ReadCoils(a, n) => Some((RegisterKind::Coil, *a, *n)),
        Request::ReadDiscreteInputs(a, n) => Some((RegisterKind::Discrete, *a, *n)),
        Request::ReadHoldingRegisters(a, n) => Some((RegisterKind::Holding, *a, *n)),
        Request::ReadInputRegisters(a, n) => Some((RegisterKind::Input, *a, *n)),
        _ => None,
    }
}

fn check_quantity(count: u16, max: u16) -> Result<(), ExceptionCode> {
    if count == 0 || count > max {
        Err(ExceptionCode::IllegalDataValue)
    } else {
        Ok(())
    }
}

fn quantity(len: usize) -> Result<u16, ExceptionCode> {
    u16::try_from(len).map_err(|_| ExceptionCode::IllegalDataValue)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::plant::Plant;

    fn service(machines: usize, listener: usize) -> PlantService {
        let plant = Plant::new(3, machines).unwrap();
        PlantService::new(
            Arc::new(ImageStore::from_plant(&plant)),
            Arc::new(Faults::new(machines)),
            listener,
        )
    }

    fn call(
        svc: &PlantService,
        slave: u8,
        request: Request<'static>,
    ) -> Result<Option<Response>, ExceptionCode> {
        svc.handle(SlaveRequest { slave, request })
    }

    #[test]
    fn exceptions() {
        let svc = service(250, 0);
        use ExceptionCode::*;
        assert_eq!(
            call(&svc, 1, Request::ReadInputRegisters(511, 2)),
            Err(IllegalDataAddress)
        );
        assert_eq!(
            call(&svc, 1, Request::ReadInputRegisters(0, 0)),
            Err(IllegalDataValue)
        );
        assert_eq!(
            call(&svc, 1, Request::ReadHoldingRegisters(0, 126)),
            Err(IllegalDataValue)
        );
        assert_eq!(
            call(&svc, 1, Request::ReadCoils(0, 2001)),
            Err(IllegalDataValue)
        );
        assert_eq!(
            call(&svc, 1, Request::ReadCoils(100, 500)),
            Err(IllegalDataAddress)
        );
        assert_eq!(
            call(&svc, 248, Request::ReadCoils(0, 1)),
            Err(GatewayTargetDevice)
        );
        assert_eq!(call(&svc, 1, Request::ReportServerId), Err(IllegalFunction));
        assert_eq!(call(&svc, 0, Request::ReadCoils(0, 1)), Ok(None));
        let second = service(250, 1);
        assert!(call(&second, 3, Request::ReadCoils(0, 1)).is_ok());
        assert_eq!(
            call(&second, 4, Request::ReadCoils(0, 1)),
            Err(GatewayTargetDevice)
        );
        let values = Cow::Owned(vec![1; 124]);
        assert_eq!(
            call(&svc, 1, Request::WriteMultipleRegisters(0, values)),
            Err(IllegalDataValue)
        );
        assert_eq!(
            call(&svc, 1, Request::WriteSingleRegister(512, 1)),
            Err(IllegalDataAddress)
        );
    }

    #[test]
    fn reads_and_writes() {
        let svc = service(3, 0);
        let Ok(Some(Response::ReadCoils(bits))) = call(&svc, 1, Request::ReadCoils(0, 3)) else {
            panic!("read coils failed");
        };
        assert_eq!(bits, [true, false, false]);
        assert_eq!(
            call(&svc, 2, Request::WriteSingleRegister(10, 0xBEEF)),
            Ok(Some(Response::WriteSingleRegister(10, 0xBEEF)))
        );
        assert_eq!(
            call(&svc, 2, Request::ReadHoldingRegisters(10, 1)),
            Ok(Some(Response::ReadHoldingRegisters(vec![0xBEEF])))
        );
        let coils = Cow::Owned(vec![true, true]);
        assert_eq!(
            call(&svc, 3, Request::WriteMultipleCoils(5, coils)),
            Ok(Some(Response::WriteMultipleCoils(5, 2)))
        );
        assert_eq!(
            call(&svc, 3, Request::ReadCoils(4, 3)),
            Ok(Some(Response::ReadCoils(vec![false, true, true])))
        );
    }
}
