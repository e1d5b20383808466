# Starts moto's server (argv: host port) with two fixes that restore AWS
# behaviour moto 5 lacks:
#
# - Isolation. moto applies a TransactWriteItems item by item and rolls a
#   failed one back by restoring a copy of the whole table, with no lock:
#   two concurrent transactions can both pass their conditions, and a
#   rollback can erase another request's write. DynamoDB's transactions
#   are serializable, so requests here are served one at a time.
# - Cost. Before a TransactWriteItems, moto backs up each table it names
#   with a deep copy of the whole table, once per item naming it: a
#   transaction of nine items on two tables copied them nine times. The
#   copies are taken before any item is applied, so they are identical;
#   here each table is copied once per transaction. (Every audited
#   transaction names the audit table for its rows and chain heads, so
#   the per-item copies made long strict runs slow and moto's memory grow
#   by gigabytes.)
# - KMS Sign with MessageType DIGEST. AWS signs the given digest as is; moto
#   ignores MessageType and hashes the digest again, so no signature it
#   makes for a digest verifies. ECDSA keys (the only kind this project
#   uses) sign the digest, whose length is checked as AWS checks it.
import copy
import sys
import threading
import types

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils as asym_utils
from moto.core.exceptions import JsonRESTError
from moto.dynamodb import models as dynamodb_models
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

_plain_transact = dynamodb_models.DynamoDBBackend.transact_write_items


def _transact_write_items(self, transact_items):
    # Requests are served one at a time (below), so swapping the module's
    # copy for the duration of one call is safe.
    copies = {}

    def deepcopy(x, memo=None):
        if not isinstance(x, dynamodb_models.Table):
            return copy.deepcopy(x, memo)
        if id(x) not in copies:
            copies[id(x)] = (x, copy.deepcopy(x, memo))
        return copies[id(x)][1]

    dynamodb_models.copy = types.SimpleNamespace(deepcopy=deepcopy)
    try:
        return _plain_transact(self, transact_items)
    finally:
        dynamodb_models.copy = copy


dynamodb_models.DynamoDBBackend.transact_write_items = _transact_write_items

_app = DomainDispatcherApplication(create_backend_app)
_one_at_a_time = threading.Lock()


def serialized(environ, start_response):
    with _one_at_a_time:
        return list(_app(environ, start_response))


if __name__ == "__main__":
    run_simple(sys.argv[1], int(sys.argv[2]), serialized, threaded=True)
