"""Interop checks run by tests/api/interop.rs against a running imhotep, with the real Python stack.

    simplejwt_keys.py simplejwt BASE_URL EMAIL PASSWORD ALGORITHM PRIVATE_PEM_FILE PUBLIC_PEM_FILE
        A SimpleJWT deployment configured exactly like a Django project (SIMPLE_JWT = {"ALGORITHM": ...,
        "SIGNING_KEY": <private PEM>, "VERIFYING_KEY": <public PEM>}) accepts imhotep's access and
        refresh tokens (AccessToken(...) / RefreshToken(...), what JWTAuthentication runs), and imhotep
        accepts an access token SimpleJWT minted (GET users/me/) and a refresh token (jwt/verify/).

    simplejwt_keys.py load PEM_FILE [PEM_FILE ...]
        `cryptography` (what PyJWT and SimpleJWT load keys with) reads each private key file, as
        written by `imhotep keys generate`.

    simplejwt_keys.py jwks BASE_URL ACCESS_TOKEN [BASE_URL ACCESS_TOKEN ...]
        PyJWT's PyJWKClient, pointed at BASE_URL/.well-known/jwks.json, finds the token's key by kid and
        verifies the token with it.

Prints one "ok ..." line per check; any failure raises (non-zero exit).
"""

import json
import sys
import urllib.request


def call(method, url, body=None, bearer=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if bearer:
        request.add_header("Authorization", f"Bearer {bearer}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def simplejwt(base, email, password, algorithm, private_file, public_file):
    import django
    from django.conf import settings

    with open(private_file) as f:
        private_pem = f.read()
    with open(public_file) as f:
        public_pem = f.read()
    settings.configure(
        SECRET_KEY="interop-not-used-for-tokens-" + "x" * 32,
        USE_TZ=True,
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework_simplejwt"],
        SIMPLE_JWT={"ALGORITHM": algorithm, "SIGNING_KEY": private_pem, "VERIFYING_KEY": public_pem},
    )
    django.setup()
    from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

    status, tokens = call("POST", f"{base}/api/auth/jwt/create/", {"email": email, "password": password})
    assert status == 200, (status, tokens)
    access = AccessToken(tokens["access"])
    refresh = RefreshToken(tokens["refresh"])
    assert access["user_id"] == refresh["user_id"], (access.payload, refresh.payload)
    print(f"ok SimpleJWT {algorithm} accepts imhotep's access and refresh tokens")

    minted = AccessToken()
    minted["user_id"] = access["user_id"]
    status, me = call("GET", f"{base}/api/auth/users/me/", bearer=str(minted))
    assert status == 200 and me["email"] == email, (status, me)
    minted_refresh = RefreshToken()
    minted_refresh["user_id"] = access["user_id"]
    status, body = call("POST", f"{base}/api/auth/jwt/verify/", {"token": str(minted_refresh)})
    assert status == 200 and body == {}, (status, body)
    print(f"ok imhotep accepts SimpleJWT {algorithm} tokens")


def jwks(pairs):
    import jwt

    for base, token in pairs:
        client = jwt.PyJWKClient(f"{base}/.well-known/jwks.json")
        key = client.get_signing_key_from_jwt(token)
        algorithm = jwt.get_unverified_header(token)["alg"]
        claims = jwt.decode(token, key.key, algorithms=[algorithm])
        assert claims["token_type"] == "access", claims
        assert key.key_id == jwt.get_unverified_header(token)["kid"]
        print(f"ok PyJWKClient verifies an imhotep {algorithm} token (kid {key.key_id})")


def load(files):
    from cryptography.hazmat.primitives import serialization

    for name in files:
        with open(name, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        print(f"ok cryptography reads {name} ({type(key).__name__})")


def main(argv):
    if argv[:1] == ["simplejwt"] and len(argv) == 7:
        simplejwt(*argv[1:])
    elif argv[:1] == ["load"] and len(argv) >= 2:
        load(argv[1:])
    elif argv[:1] == ["jwks"] and len(argv) >= 3 and len(argv) % 2 == 1:
        jwks(list(zip(argv[1::2], argv[2::2])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
