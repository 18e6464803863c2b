#!/usr/bin/env bash
# SCRAM users and ACLs for frontdoor on Apache Kafka (KRaft, StandardAuthorizer,
# allow.everyone.if.no.acl.found=false). Idempotent: re-running re-applies the same ACLs and
# re-sets each SCRAM credential from the password files (that is how a rotation is applied).
#
#   User:frontdoor    the services: what intake, screening, sla, conferences, outofhours, ops,
#                     ingress, deadletter and `frontdoor init` need, nothing on other prefixes.
#   User:<agency>     one per agency: WRITE on its own partner.events.<agency> only (the default
#                     --mode per-agency; intake takes the topic as the speaker), READ on its own
#                     agency.<agency>.inbox only, consumer groups prefixed agency.<agency>. only.
#                     --mode shared instead lets every agency write partner.events: only for one
#                     trusted hub, with intake run as FRONTDOOR_INTAKE_SPEAKERS=single-tenant.
#
# Runs either where the Kafka tools are (/opt/kafka/bin, as the `kafka-acls` compose service does)
# or from the repository root, executing the tools inside the running `kafka` container.
# Passwords are read from files written by make-secrets.sh; none is ever printed.
#
# Usage: deploy/kafka/acls.sh [--bootstrap-server HOST:PORT] [--command-config FILE]
#                             [--secrets-dir DIR] [--mode per-agency|shared]
#                             [--agency NAME]... [--dry-run]
set -euo pipefail

readonly ALL_AGENCIES=(police health education probation housing social_care early_help ooh public other)
readonly SERVICE_USER="frontdoor"
readonly PARTNER_TOPIC="partner.events"
readonly SCRAM_MECHANISM="SCRAM-SHA-512"
readonly SCRAM_ITERATIONS=8192

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
secrets_dir="${FRONTDOOR_KAFKA_SECRETS:-$script_dir/secrets}"
bootstrap="${KAFKA_ADMIN_BOOTSTRAP:-kafka:19092}"
command_config="${KAFKA_ADMIN_CONFIG:-/etc/kafka/secrets/admin.properties}"
kafka_bin="${KAFKA_BIN:-/opt/kafka/bin}"
mode="per-agency"
dry_run=0
agencies=()

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

die() {
    echo "acls.sh: $*" >&2
    exit 2
}

# value FLAG ARGS...: the argument after FLAG, or exit 2 when it is missing.
value() {
    (($# >= 2)) || die "$1 needs a value (see --help)"
    printf '%s' "$2"
}

while (($#)); do
    case "$1" in
        --bootstrap-server) bootstrap="$(value "$@")"; shift 2 ;;
        --command-config) command_config="$(value "$@")"; shift 2 ;;
        --secrets-dir) secrets_dir="$(value "$@")"; shift 2 ;;
        --mode) mode="$(value "$@")"; shift 2 ;;
        --agency) agencies+=("$(value "$@")"); shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

[[ "$mode" == "shared" || "$mode" == "per-agency" ]] || die "--mode must be shared or per-agency"
((${#agencies[@]})) || agencies=("${ALL_AGENCIES[@]}")
for agency in "${agencies[@]}"; do
    # Agency codes become principals, topic and group names: keep them to the DESIGN.md charset.
    [[ "$agency" =~ ^[a-z][a-z_]*$ ]] || die "invalid agency code: $agency"
done

# Where the Kafka tools run: here if installed, else inside the compose `kafka` container.
exec_prefix=()
if [[ -n "${KAFKA_EXEC:-}" ]]; then
    read -r -a exec_prefix <<<"$KAFKA_EXEC"
elif [[ ! -x "$kafka_bin/kafka-acls.sh" ]]; then
    exec_prefix=(docker compose -f docker-compose.yml -f deploy/compose.sasl.yml exec -T kafka)
fi

# kafka_tool TOOL ARGS...: run one Kafka admin tool against the BROKER listener as User:admin.
# With --dry-run, print the command instead (passwords redacted); tests parse these lines.
kafka_tool() {
    local tool="$1"
    shift
    local -a cmd=("$kafka_bin/$tool" --bootstrap-server "$bootstrap" --command-config "$command_config" "$@")
    if ((dry_run)); then
        echo "${cmd[*]}" | sed -E 's/password=[^],]*/password=<redacted>/g'
        return 0
    fi
    "${exec_prefix[@]}" "${cmd[@]}"
}

# read_password FILE: the password in FILE, checked to be safe inside SCRAM-SHA-512=[...].
read_password() {
    local file="$1" password
    if [[ ! -r "$file" ]]; then
        ((dry_run)) && { echo "dry-run-placeholder"; return 0; }
        die "missing password file $file (run deploy/kafka/make-secrets.sh first)"
    fi
    password="$(tr -d '[:space:]' <"$file")"
    [[ "$password" =~ ^[A-Za-z0-9]{24,}$ ]] || die "password in $file must be 24+ letters/digits"
    echo "$password"
}

# scram_user NAME PASSWORD_FILE: create or re-set the user's SCRAM-SHA-512 credential.
scram_user() {
    local name="$1" password
    password="$(read_password "$2")"
    kafka_tool kafka-configs.sh --alter --entity-type users --entity-name "$name" \
        --add-config "${SCRAM_MECHANISM}=[iterations=${SCRAM_ITERATIONS},password=${password}]"
}

# allow PRINCIPAL PATTERN_TYPE RESOURCE_FLAG RESOURCE_NAME OPERATION...: add one ALLOW ACL set.
allow() {
    local principal="$1" pattern="$2" resource_flag="$3" resource="$4"
    shift 4
    local -a ops=()
    local op
    for op in "$@"; do ops+=(--operation "$op"); done
    if [[ "$resource_flag" == "--cluster" ]]; then
        kafka_tool kafka-acls.sh --add --allow-principal "User:$principal" "${ops[@]}" --cluster
    else
        kafka_tool kafka-acls.sh --add --allow-principal "User:$principal" "${ops[@]}" \
            "$resource_flag" "$resource" --resource-pattern-type "$pattern"
    fi
}

grant_services() {
    local u="$SERVICE_USER"
    scram_user "$u" "$secrets_dir/services/frontdoor.password"
    # frontdoor.* topics and the faust-internal topics of apps whose id starts with "frontdoor".
    allow "$u" prefixed --topic frontdoor Read Write Create Describe DescribeConfigs
    # intake reads partner.events; ingress and `frontdoor dlq replay` write it; init creates it.
    allow "$u" literal --topic "$PARTNER_TOPIC" Read Write Create Describe DescribeConfigs
    # conferences publishes what each agency may see; ops reads inbox offsets for lag.
    allow "$u" prefixed --topic agency. Write Create Describe DescribeConfigs
    if [[ "$mode" == "per-agency" ]]; then
        # intake reads every agency's own lane; init creates them; `frontdoor dlq replay` re-sends
        # a lane's dead letter to its lane (the topic still names the agency that spoke).
        allow "$u" prefixed --topic "$PARTNER_TOPIC." Read Write Create Describe DescribeConfigs
    fi
    # Consumer groups: the services' own; ops also describes the agencies' groups for lag.
    allow "$u" prefixed --group frontdoor Read Describe
    allow "$u" prefixed --group agency. Describe
    # ops lists consumer groups and describes the cluster.
    allow "$u" literal --cluster kafka-cluster Describe
}

grant_agency() {
    local a="$1"
    scram_user "$a" "$secrets_dir/agencies/$a.password"
    if [[ "$mode" == "per-agency" ]]; then
        allow "$a" literal --topic "$PARTNER_TOPIC.$a" Write
    else
        allow "$a" literal --topic "$PARTNER_TOPIC" Write
    fi
    allow "$a" literal --topic "agency.$a.inbox" Read
    allow "$a" prefixed --group "agency.$a." Read
}

grant_services
for agency in "${agencies[@]}"; do
    grant_agency "$agency"
done

if ((!dry_run)); then
    echo "acls.sh: SCRAM users and ACLs applied for $SERVICE_USER and ${#agencies[@]} agencies (mode $mode)"
fi
