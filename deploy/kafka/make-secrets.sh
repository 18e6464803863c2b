#!/usr/bin/env bash
# Generate everything deploy/compose.sasl.yml mounts, under deploy/kafka/secrets/ (git-ignored):
#
#   ca/ca.key, ca/ca.crt             a private CA for the broker certificate (ca.key stays here)
#   broker/                          mounted into the kafka container at /etc/kafka/secrets
#     kafka.keystore.p12             broker key + certificate (SAN: kafka, localhost, --host ...)
#     kafka-ssl.env                  KAFKA_SSL_KEYSTORE_PASSWORD / KAFKA_SSL_KEY_PASSWORD
#     ca.crt                         truststore (PEM) for the BROKER listener and the admin tools
#     kafka_server_jaas.conf         per-listener JAAS: PLAIN admin on controller/broker, SCRAM else
#     admin.properties               client config for kafka-*.sh as User:admin on kafka:19092
#     admin.password
#   services/                        for the frontdoor containers
#     ca.crt, frontdoor.password, frontdoor-sasl.env (KAFKA_SASL_PASSWORD=...)
#   agencies/                        hand these to each agency over a secure channel
#     <agency>.password, <agency>.client.properties, ca.crt
#
# Existing files are kept (re-running is safe); --rotate NAME writes a new password for one user
# (an agency code, "frontdoor" or "admin"); --force regenerates the CA and broker certificate.
# Needs only openssl. Passwords are 64 hex characters from `openssl rand`.
#
# Modes: everything is created under umask 077, so no secret is ever readable by another user,
# not even while it is written: every directory 0700, every secret file 0600. Only the CA
# certificate copies (ca.crt, public by nature) are 0644, so that the single-file mount into the
# frontdoor containers (uid 10001) can read it. Re-running tightens a tree an older version left
# world-readable. The broker directory is bind-mounted into apache/kafka, which runs as uid 1000:
# if you are not uid 1000, run this as root with --owner 1000:1000 (chown -R of the tree) or give
# the kafka and kafka-acls services `user:` your uid.
#
# Usage: deploy/kafka/make-secrets.sh [--host DNS_NAME]... [--days N] [--rotate NAME]... [--force]
#                                     [--owner UID[:GID]]
set -euo pipefail

readonly ALL_AGENCIES=(police health education probation housing social_care early_help ooh public other)

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${FRONTDOOR_KAFKA_SECRETS:-$script_dir/secrets}"
hosts=(kafka localhost)
days=825
force=0
rotate=()
owner=""

die() {
    echo "make-secrets.sh: $*" >&2
    exit 2
}

while (($#)); do
    case "$1" in
        --host) hosts+=("${2:?--host needs a DNS name}"); shift 2 ;;
        --days) days="${2:?--days needs a number}"; shift 2 ;;
        --rotate) rotate+=("${2:?--rotate needs a user name}"); shift 2 ;;
        --force) force=1; shift ;;
        --owner) owner="${2:?--owner needs UID[:GID]}"; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
[[ "$days" =~ ^[0-9]+$ ]] || die "--days must be a number"
[[ -z "$owner" || "$owner" =~ ^[0-9]+(:[0-9]+)?$ ]] || die "--owner must be UID or UID:GID (numbers)"
command -v openssl >/dev/null || die "openssl is required"

umask 077
mkdir -p "$out/ca" "$out/broker" "$out/services" "$out/agencies"
chmod 0700 "$out" "$out/ca" "$out/broker" "$out/services" "$out/agencies"

# password_file FILE USER: create FILE with a fresh password unless it exists and USER is not
# being rotated.
password_file() {
    local file="$1" user="$2" r
    for r in "${rotate[@]+"${rotate[@]}"}"; do
        [[ "$r" == "$user" ]] && rm -f "$file"
    done
    if [[ ! -s "$file" ]]; then
        openssl rand -hex 32 >"$file"
        echo "make-secrets.sh: new password for $user"
    fi
}

# ------------------------------------------------------------------ CA and broker certificate
if ((force)) || [[ ! -s "$out/ca/ca.crt" ]]; then
    openssl req -x509 -new -nodes -newkey rsa:3072 -sha256 -days "$days" \
        -subj "/CN=frontdoor Kafka CA" \
        -keyout "$out/ca/ca.key" -out "$out/ca/ca.crt" 2>/dev/null
    chmod 0600 "$out/ca/ca.key"
    force=1 # a new CA needs a new broker certificate
fi

password_file "$out/broker/keystore.password" keystore
keystore_password="$(cat "$out/broker/keystore.password")"

if ((force)) || [[ ! -s "$out/broker/kafka.keystore.p12" ]]; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    san="$(printf 'DNS:%s,' "${hosts[@]}")"
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n' \
        "${san%,}" >"$work/ext.cnf"
    openssl req -new -nodes -newkey rsa:3072 -sha256 -subj "/CN=kafka" \
        -keyout "$work/kafka.key" -out "$work/kafka.csr" 2>/dev/null
    openssl x509 -req -sha256 -days "$days" -in "$work/kafka.csr" \
        -CA "$out/ca/ca.crt" -CAkey "$out/ca/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
        -extfile "$work/ext.cnf" -out "$work/kafka.crt" 2>/dev/null
    openssl pkcs12 -export -name kafka -in "$work/kafka.crt" -inkey "$work/kafka.key" \
        -certfile "$out/ca/ca.crt" -passout "file:$out/broker/keystore.password" \
        -out "$out/broker/kafka.keystore.p12"
    echo "make-secrets.sh: broker certificate for ${hosts[*]}"
fi
# Passed to the broker as properties ssl.keystore.password / ssl.key.password (PKCS12: one password).
printf 'KAFKA_SSL_KEYSTORE_PASSWORD=%s\nKAFKA_SSL_KEY_PASSWORD=%s\n' "$keystore_password" "$keystore_password" \
    >"$out/broker/kafka-ssl.env"
cp "$out/ca/ca.crt" "$out/broker/ca.crt"
cp "$out/ca/ca.crt" "$out/services/ca.crt"
cp "$out/ca/ca.crt" "$out/agencies/ca.crt"

# ------------------------------------------------------------------ broker principal (PLAIN)
password_file "$out/broker/admin.password" admin
admin_password="$(cat "$out/broker/admin.password")"

plain_section() {
    cat <<EOF
$1.KafkaServer {
    org.apache.kafka.common.security.plain.PlainLoginModule required
    username="admin"
    password="$admin_password"
    user_admin="$admin_password";
};

EOF
}

{
    echo "// Generated by deploy/kafka/make-secrets.sh. One section per listener name."
    plain_section controller
    plain_section broker
    printf 'internal.KafkaServer {\n    org.apache.kafka.common.security.scram.ScramLoginModule required;\n};\n\n'
    printf 'external.KafkaServer {\n    org.apache.kafka.common.security.scram.ScramLoginModule required;\n};\n'
} >"$out/broker/kafka_server_jaas.conf"

cat >"$out/broker/admin.properties" <<EOF
# kafka-*.sh as User:admin on the BROKER listener (kafka:19092). Generated by make-secrets.sh.
security.protocol=SASL_SSL
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$admin_password";
ssl.truststore.type=PEM
ssl.truststore.location=/etc/kafka/secrets/ca.crt
EOF

# ------------------------------------------------------------------ SCRAM users
password_file "$out/services/frontdoor.password" frontdoor
printf 'KAFKA_SASL_PASSWORD=%s\n' "$(cat "$out/services/frontdoor.password")" >"$out/services/frontdoor-sasl.env"

for agency in "${ALL_AGENCIES[@]}"; do
    password_file "$out/agencies/$agency.password" "$agency"
    cat >"$out/agencies/$agency.client.properties" <<EOF
# Kafka client settings for agency "$agency". Keep this file secret.
# Produce to partner.events (source.agency must be "$agency"); consume agency.$agency.inbox
# with a group.id starting "agency.$agency.".
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$agency" password="$(cat "$out/agencies/$agency.password")";
ssl.truststore.type=PEM
ssl.truststore.location=ca.crt
group.id=agency.$agency.main
EOF
done

# Secrets 0600 in 0700 directories (also tightening what an older version wrote 0644); the CA
# certificate copies are public and 0644 (see the header).
find "$out" -type d -exec chmod 0700 {} +
find "$out" -type f -exec chmod 0600 {} +
chmod 0644 "$out/ca/ca.crt" "$out/broker/ca.crt" "$out/services/ca.crt" "$out/agencies/ca.crt"
if [[ -n "$owner" ]]; then
    chown -R "$owner" "$out" || die "cannot chown $out to $owner (run as root)"
fi
tree_uid="$(stat -c %u "$out/broker")"
if [[ "$tree_uid" != 1000 ]]; then
    echo "make-secrets.sh: note: $out/broker is owned by uid $tree_uid, apache/kafka runs as uid 1000;" \
        "re-run as root with --owner 1000:1000, or run the kafka services with user: \"$tree_uid\"" >&2
fi
echo "make-secrets.sh: secrets in $out"
