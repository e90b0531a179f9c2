"""Modbus TCP peer (pymodbus) for the write and tool tests.

Unit 1 (and only unit 1: other unit ids get no device) with non-shared tables:

- coils 0..7 (all off; pymodbus packs bits into registers, so 0..15 answer)
- holding registers 0..9: 0 = 1400 (u16 setpoint), 2..3 = 12.5 as f32 ABCD
  (0x4148, 0x0000), 4..5 = 0x4148 0x0000 too, 8 = 0x8001 (flag bits), others 0
- holding registers 100..119: 0x0102 each (a second block, for scan)
- input registers 0..3: "AB", "CD" as ASCII, 0x7FC0, 0x0000

Every request that writes prints one line on stdout, flushed, before it is applied:
`WRITE fc=<function code> address=<first address> values=<v1>,<v2>,...`
(booleans as 0/1). The first line is `writes_server ready port=<port>`.
"""

import asyncio
import sys

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice


async def log_writes(function_code, start_address, address, count, registers, set_values):
    if set_values is not None:
        values = ",".join(str(int(v)) for v in set_values)
        print(f"WRITE fc={function_code} address={address} values={values}", flush=True)
    return None


async def main():
    coils = [SimData(0, values=[False] * 8, datatype=DataType.BITS)]
    discrete = [SimData(0, values=[True] * 8, datatype=DataType.BITS)]
    holding = [
        SimData(0, values=[1400, 0, 0x4148, 0x0000, 0x4148, 0x0000, 0, 0, 0x8001, 0], datatype=DataType.REGISTERS),
        SimData(100, values=[0x0102] * 20, datatype=DataType.REGISTERS),
    ]
    inputs = [SimData(0, values=[0x4142, 0x4344, 0x7FC0, 0x0000], datatype=DataType.REGISTERS)]
    device = SimDevice(1, simdata=(coils, discrete, holding, inputs), action=log_writes)
    server = ModbusTcpServer(device, address=("127.0.0.1", 0))
    await server.serve_forever(background=True)
    port = server.transport.sockets[0].getsockname()[1]
    print(f"writes_server ready port={port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
