#!/bin/sh
# Writes TEST-ONLY TLS certificates and private keys into the directory given as $1
# (created if missing). Run at test time by tests/unit/test_tls.c, tests/fuzz/fuzz_tls.c
# and bench/tls_handshakes.c, always into a fresh temporary directory: no key made here is
# ever committed or used outside a test.
#
#   ca.pem            ECDSA P-256 CA ("tidegate test CA"), what test clients trust
#   a.pem  a.key      server certificate for a.test and *.a.test (the default in tests)
#   b.pem  b.key      server certificate for b.test
#   a2.pem a2.key     a second, different certificate for a.test (reload tests swap it in)
#   cn.pem cn.key     a certificate with no subjectAltName, only CN=cn.test
#   rsa.pem rsa.key   an RSA 2048 certificate for rsa.test (ECDHE-RSA suites)
#   rsa2.key          another RSA key, which matches no certificate
#
# Keys are ECDSA P-256 unless named rsa; certificates are SHA-256 signed by the ECDSA CA
# and valid for 30 days.
set -eu
dir=${1:?usage: make_certs.sh OUTPUT_DIR}
mkdir -p "$dir"
cd "$dir"

key() {
    case "$1" in
    rsa*) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null ;;
    *) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null ;;
    esac
}

key ca.key
openssl req -x509 -new -key ca.key -sha256 -days 30 -subj "/CN=tidegate test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem 2>/dev/null

# leaf NAME CN SAN: a key NAME.key and a certificate NAME.pem signed by the CA.
leaf() {
    key "$1.key"
    openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null
    {
        echo "basicConstraints=CA:FALSE"
        echo "keyUsage=critical,digitalSignature"
        echo "extendedKeyUsage=serverAuth"
        if [ -n "$3" ]; then echo "subjectAltName=$3"; fi
    } >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
        -days 30 -sha256 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

leaf a a.test "DNS:a.test,DNS:*.a.test"
leaf b b.test "DNS:b.test"
leaf a2 a.test "DNS:a.test,DNS:*.a.test"
leaf cn cn.test ""
leaf rsa rsa.test "DNS:rsa.test"
key rsa2.key
rm -f ca.key
