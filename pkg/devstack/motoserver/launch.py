# Starts moto's server (argv: host port) with two fixes that restore AWS
# behaviour moto 5 lacks:
#
# - Isolation. moto applies a TransactWriteItems item by item and rolls a
#   failed one back by restoring a copy of the whole table, with no lock:
#   two concurrent transactions can both pass their conditions, and a
#   rollback can erase another request's write. DynamoDB's transactions
#   are serializable, so requests here are served one at a time. The
#   rollback copy is of the items the transaction names, not of every
#   table it touches: a whole-table copy per transaction made each one
#   O(table) and grew the server to many GB over a test suite.
# - KMS Sign with MessageType DIGEST. AWS signs the given digest as is; moto
#   ignores MessageType and hashes the digest again, so no signature it
#   makes for a digest verifies. ECDSA keys (the only kind this project
#   uses) sign the digest, whose length is checked as AWS checks it.
import copy
import sys
import threading

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils as asym_utils
from moto.core.exceptions import JsonRESTError
from moto.dynamodb import models as ddb_models
from moto.dynamodb.models.table import Table
from moto.kms import responses, utils
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

_digest = threading.local()
_hashes = {"ECDSA_SHA_256": hashes.SHA256(), "ECDSA_SHA_384": hashes.SHA384(), "ECDSA_SHA_512": hashes.SHA512()}
_plain_sign = responses.KmsResponse.sign
_plain_ecdsa_sign = utils.ECDSAPrivateKey.sign


def _sign(self):
    _digest.on = self._get_param("MessageType") == "DIGEST"
    try:
        return _plain_sign(self)
    finally:
        _digest.on = False


def _ecdsa_sign(self, message, signing_algorithm):
    if not getattr(_digest, "on", False):
        return _plain_ecdsa_sign(self, message, signing_algorithm)
    utils.validate_signing_algorithm(signing_algorithm, self.valid_signing_algorithms)
    algorithm = _hashes[signing_algorithm]
    if len(message) != algorithm.digest_size:
        raise JsonRESTError(
            "ValidationException",
            f"Digest is invalid length for algorithm {signing_algorithm}.",
        )
    return self.private_key.sign(message, ec.ECDSA(asym_utils.Prehashed(algorithm)))


responses.KmsResponse.sign = _sign
utils.ECDSAPrivateKey.sign = _ecdsa_sign
_plain_transact = ddb_models.DynamoDBBackend.transact_write_items


class _NoTableCopy:
    """copy for moto's transaction code: its whole-table backup becomes the
    table itself (so its own rollback is a no-op); _transact restores the
    named items instead. Requests are serialized, so nothing else writes
    in between."""

    @staticmethod
    def deepcopy(obj, memo=None):
        if isinstance(obj, Table):
            return obj
        return copy.deepcopy(obj, memo)


def _key_of(backend, op_type, op):
    table = backend.tables.get(op.get("TableName"))
    if table is None:
        return None, None
    if op_type == "Put":
        attrs = op.get("Item", {})
        if table.hash_key_attr not in attrs:
            return table, None
        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr is not None and table.range_key_attr in attrs:
            key[table.range_key_attr] = attrs[table.range_key_attr]
        return table, key
    return table, op.get("Key")


def _transact(self, transact_items):
    saved = []
    if len(transact_items) <= 100:
        for entry in transact_items:
            if len(entry) != 1:
                break
            op_type, op = next(iter(entry.items()))
            table, key = _key_of(self, op_type, op)
            if table is None or key is None:
                continue
            try:
                before = self.get_item(op["TableName"], key)
            except Exception:  # a malformed key: moto refuses it below
                continue
            saved.append((op["TableName"], key, copy.deepcopy(before)))
    ddb_models.copy = _NoTableCopy
    try:
        return _plain_transact(self, transact_items)
    except Exception:
        for table_name, key, before in reversed(saved):
            table = self.tables[table_name]
            now = self.get_item(table_name, key)
            if now is not None:
                if table.range_key_attr is not None:
                    table.items[now.hash_key].pop(now.range_key, None)
                else:
                    table.items.pop(now.hash_key, None)
            if before is not None:
                if table.range_key_attr is not None:
                    table.items[before.hash_key][before.range_key] = before
                else:
                    table.items[before.hash_key] = before
        raise
    finally:
        ddb_models.copy = copy


ddb_models.DynamoDBBackend.transact_write_items = _transact

_app = DomainDispatcherApplication(create_backend_app)
_one_at_a_time = threading.Lock()


def serialized(environ, start_response):
    with _one_at_a_time:
        return list(_app(environ, start_response))


if __name__ == "__main__":
    run_simple(sys.argv[1], int(sys.argv[2]), serialized, threaded=True)
