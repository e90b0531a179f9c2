"""asyncua OPC UA client: reads every machine signal plant-sim serves over OPC UA.

Usage: opcua_client.py MAP_FILE PKI_DIR [--secure] [--user USER:PASSWORD]

Reads the plant-sim map (its opcua_endpoint and opcua_namespace), connects (no security,
or Basic256Sha256 SignAndEncrypt with a client certificate generated into PKI_DIR),
browses Objects for one node per machine, reads `<machine>.<signal>` for every signal in
the map, and prints one JSON object on stdout:
  {"security": "...", "machines": {"<id>": {"browse_name": "...",
   "signals": {"<signal>": value}}}}
Exits non-zero (with the error on stderr) when anything fails.
"""

import asyncio
import json
import socket
import sys
import tomllib
from pathlib import Path

from asyncua import Client, ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from cryptography.x509.oid import ExtendedKeyUsageOID

APP_URI = "urn:sentia:test:asyncua-client"


async def main() -> None:
    map_file, pki = Path(sys.argv[1]), Path(sys.argv[2])
    secure = "--secure" in sys.argv
    user = sys.argv[sys.argv.index("--user") + 1] if "--user" in sys.argv else None
    plant = tomllib.loads(map_file.read_text())
    endpoint, ns = plant["opcua_endpoint"], plant["opcua_namespace"]
    client = Client(endpoint, timeout=10)
    client.application_uri = APP_URI
    if user:
        name, password = user.split(":", 1)
        client.set_user(name)
        client.set_password(password)
    if secure:
        pki.mkdir(parents=True, exist_ok=True)
        key, cert = pki / "client_key.pem", pki / "client_cert.der"
        await setup_self_signed_certificate(
            key,
            cert,
            APP_URI,
            socket.gethostname(),
            [ExtendedKeyUsageOID.CLIENT_AUTH],
            {"commonName": "sentia asyncua client"},
        )
        await client.set_security(
            SecurityPolicyBasic256Sha256,
            certificate=str(cert),
            private_key=str(key),
            mode=ua.MessageSecurityMode.SignAndEncrypt,
        )
    out = {"security": "Basic256Sha256/SignAndEncrypt" if secure else "None", "machines": {}}
    async with client:
        children = await client.nodes.objects.get_children()
        names = {}
        for child in children:
            nid = child.nodeid
            if nid.NamespaceIndex == ns:
                names[nid.Identifier] = (await child.read_browse_name()).Name
        for machine in plant["machine"]:
            mid = machine["id"]
            if mid not in names:
                raise SystemExit(f"machine {mid} not found under Objects: {sorted(names)}")
            signals = {}
            for signal in machine["signal"]:
                node = client.get_node(ua.NodeId(f"{mid}.{signal['name']}", ns))
                dv = await node.read_data_value()
                if not dv.StatusCode.is_good():
                    raise SystemExit(f"{mid}.{signal['name']}: {dv.StatusCode}")
                signals[signal["name"]] = dv.Value.Value
            out["machines"][mid] = {"browse_name": names[mid], "signals": signals}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
