# An "editor" that first makes the deployment invalid, then, when keelctl
# reopens the file with the error on top, fixes it (replicas 4).
if grep -q '^# .*is invalid' "$1"; then
	sed -i 's/^  replicas: -1$/  replicas: 4/' "$1"
else
	sed -i 's/^  replicas: 2$/  replicas: -1/' "$1"
fi
