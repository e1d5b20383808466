# Starts moto's server (argv: host port) with two fixes that restore AWS
# behaviour moto 5 lacks:
#
# - Isolation. moto applies a TransactWriteItems item by item and rolls a
#   failed one back by restoring a copy of the whole table, with no lock:
#   two concurrent transactions can both pass their conditions, and a
#   rollback can erase another request's write. DynamoDB's transactions
#   are serializable, so requests here are served one at a time.
# - KMS Sign with MessageType DIGEST. AWS signs the given digest as is; moto
#   ignores MessageType and hashes the digest again, so no signature it
#   makes for a digest verifies. ECDSA keys (the only kind this project
#   uses) sign the digest, whose length is checked as AWS checks it.
import sys
import threading

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils as asym_utils
from moto.core.exceptions import JsonRESTError
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

_app = DomainDispatcherApplication(create_backend_app)
_one_at_a_time = threading.Lock()


def serialized(environ, start_response):
    with _one_at_a_time:
        return list(_app(environ, start_response))


if __name__ == "__main__":
    run_simple(sys.argv[1], int(sys.argv[2]), serialized, threaded=True)
