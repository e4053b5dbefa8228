#!/usr/bin/env bash
# scripts/check-deploy.sh DEPOSITBOT_BINARY: checks deploy/ against the binary (ctest deploy_test).
#  - `systemd-analyze verify` passes on deploy/depositbot.service, warnings included, with its
#    ExecStart pointed at the binary under test (verify insists the executable exists);
#  - the unit has the dedicated user, state directory, environment file, restart and hardening;
#  - deploy/depositbot.env.example lists every setting `depositbot config` prints, and nothing
#    else, and is itself a valid configuration.
set -euo pipefail
bin=$(readlink -f "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
unit=$root/deploy/depositbot.service
example=$root/deploy/depositbot.env.example
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
problem() { echo "check-deploy: $*" >&2; fail=1; }

command -v systemd-analyze >/dev/null || { echo "check-deploy: systemd-analyze missing (Debian package systemd; scripts/install-deps.sh installs it)" >&2; exit 1; }
sed "s#/usr/local/bin/depositbot#$bin#g" "$unit" >"$work/depositbot.service"
if ! systemd-analyze verify "$work/depositbot.service" >"$work/verify.out" 2>&1; then
  problem "systemd-analyze verify failed:"; cat "$work/verify.out" >&2
elif [ -s "$work/verify.out" ]; then
  problem "systemd-analyze verify warned:"; cat "$work/verify.out" >&2
fi
for line in 'User=depositbot' 'StateDirectory=depositbot' 'EnvironmentFile=/etc/depositbot/depositbot.env' \
            'Restart=on-failure' 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' \
            'PrivateTmp=yes' 'CapabilityBoundingSet=' 'SystemCallFilter=@system-service' \
            'ExecStart=/usr/local/bin/depositbot --env-file=/dev/null serve'; do
  grep -qx -- "$line" "$unit" || problem "deploy/depositbot.service lacks the line '$line'"
done

# The settings the binary knows: the first column of `config`'s table (up to the blank line).
(cd "$work" && env -i "$bin" --env-file=/dev/null config) |
  awk 'NR > 1 && /^$/ { exit } NR > 1 { print $1 }' | sort >"$work/known"
[ -s "$work/known" ] || problem "depositbot config printed no settings"
sed -n 's/^#\{0,1\}\([A-Z][A-Z0-9_]*\)=.*/\1/p' "$example" | sort -u >"$work/listed"
missing=$(comm -23 "$work/known" "$work/listed")
extra=$(comm -13 "$work/known" "$work/listed")
[ -z "$missing" ] || problem "deploy/depositbot.env.example does not list: $(echo $missing)"
[ -z "$extra" ] || problem "deploy/depositbot.env.example lists settings depositbot does not know: $(echo $extra)"
if ! (cd "$work" && env -i "$bin" --env-file="$example" config >/dev/null 2>"$work/config.err"); then
  problem "deploy/depositbot.env.example is not a valid configuration: $(cat "$work/config.err")"
fi
[ "$fail" -eq 0 ] && echo "check-deploy: unit verified, env example lists all $(wc -l <"$work/known") settings"
exit "$fail"
