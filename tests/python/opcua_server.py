"""asyncua OPC UA server: the third-party peer for the agent's OPC UA client tests.

Usage: opcua_server.py PKI_DIR [--limit N]

Serves (namespace index 2, string node ids):
  Level        Double, stepping by 0.1 every 100 ms and jumping by 100 every 10 steps
               (deadband tests: an absolute deadband of 5 sees only the jumps)
  Counter      Int32, +1 every 100 ms
  Name         String "press-7"
  Broken       Double with status BadSensorFailure
  Shaky        Double with status UncertainLastUsableValue
  Temp1..Temp4 Double 20.5, 21.5, ... (more nodes than one Read may carry)
Endpoints: None and Basic256Sha256 SignAndEncrypt, with a certificate for 127.0.0.1 and
localhost generated into PKI_DIR (server_cert.der, server_key.pem). Users: anonymous and
operator/secret (a wrong password is refused).

Operation limits: MaxNodesPerRead and MaxMonitoredItemsPerCall are set to N (default 2)
and enforced: a larger Read or CreateMonitoredItems is refused with BadTooManyOperations,
so a client that ignores the limits gets no data.

Prints `opcua-peer ready port=P cert=PATH` once listening; runs until killed.
"""

import asyncio
import datetime
import ipaddress
import socket
import sys
from pathlib import Path

from asyncua import Server, ua
from asyncua.crypto.cert_gen import generate_private_key, generate_self_signed_app_certificate
from asyncua.server.user_managers import UserManager
from asyncua.crypto.permission_rules import User, UserRole
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

APP_URI = "urn:sentia:test:asyncua-peer"


class Users(UserManager):
    def get_user(self, iserver, username=None, password=None, certificate=None):
        if username is None:
            return User(role=UserRole.User)
        if username == "operator" and password == "secret":
            return User(role=UserRole.User)
        return None


def make_cert(pki: Path):
    pki.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = pki / "server_key.pem", pki / "server_cert.der"
    key = generate_private_key()
    cert = generate_self_signed_app_certificate(
        key,
        "sentia asyncua peer",
        {},
        [
            x509.UniformResourceIdentifier(APP_URI),
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ],
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    return key_path, cert_path


def free_port() -> int:
    # asyncua advertises the configured port in its endpoints, so port 0 cannot be used
    # directly; take a free one from the kernel (the window until bind is tiny).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def main() -> None:
    pki = Path(sys.argv[1])
    limit = int(sys.argv[sys.argv.index("--limit") + 1]) if "--limit" in sys.argv else 2
    key_path, cert_path = make_cert(pki)
    port = free_port()
    server = Server(user_manager=Users())
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/sentia/")
    server.set_server_name("sentia asyncua peer")
    await server.set_application_uri(APP_URI)
    server.set_security_policy(
        [
            ua.SecurityPolicyType.NoSecurity,
            ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
        ]
    )
    await server.load_certificate(str(cert_path))
    await server.load_private_key(str(key_path))
    ns = await server.register_namespace("urn:sentia:test")
    assert ns == 2, ns
    objects = server.nodes.objects
    press = await objects.add_object(ua.NodeId("Press", ns), "Press")

    async def var(name, value, vtype):
        return await press.add_variable(ua.NodeId(name, ns), name, ua.Variant(value, vtype))

    level = await var("Level", 0.0, ua.VariantType.Double)
    counter = await var("Counter", 0, ua.VariantType.Int32)
    await var("Name", "press-7", ua.VariantType.String)
    broken = await var("Broken", 0.0, ua.VariantType.Double)
    shaky = await var("Shaky", 1.25, ua.VariantType.Double)
    for i in range(1, 5):
        await var(f"Temp{i}", 19.5 + i, ua.VariantType.Double)
    await broken.write_value(
        ua.DataValue(
            ua.Variant(0.0, ua.VariantType.Double),
            StatusCode=ua.StatusCode(ua.StatusCodes.BadSensorFailure),
        )
    )
    await shaky.write_value(
        ua.DataValue(
            ua.Variant(1.25, ua.VariantType.Double),
            StatusCode=ua.StatusCode(ua.StatusCodes.UncertainLastUsableValue),
        )
    )
    for oid in (
        ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead,
        ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall,
    ):
        await server.get_node(ua.NodeId(oid)).write_value(ua.Variant(limit, ua.VariantType.UInt32))

    iserver = server.iserver
    plain_read = iserver.attribute_service.read

    def limited_read(params):
        if len(params.NodesToRead) > limit:
            raise ua.UaStatusCodeError(ua.StatusCodes.BadTooManyOperations)
        return plain_read(params)

    iserver.attribute_service.read = limited_read
    plain_create = iserver.subscription_service.create_monitored_items

    async def limited_create(params):
        if len(params.ItemsToCreate) > limit:
            raise ua.UaStatusCodeError(ua.StatusCodes.BadTooManyOperations)
        return await plain_create(params)

    iserver.subscription_service.create_monitored_items = limited_create

    async with server:
        print(f"opcua-peer ready port={port} cert={cert_path}", flush=True)
        step = 0
        while True:
            await asyncio.sleep(0.1)
            step += 1
            await level.write_value(100.0 * (step // 10) + 0.1 * (step % 10))
            await counter.write_value(ua.Variant(step, ua.VariantType.Int32))


if __name__ == "__main__":
    asyncio.run(main())
