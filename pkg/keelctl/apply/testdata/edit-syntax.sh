# An "editor" that first breaks the YAML, then fixes it and adds a label
# when keelctl reopens the file with the error on top.
if grep -q '^# error:' "$1"; then
	sed -i 's/^  replicas: 2 :$/  replicas: 2/; s/^    app: web$/    app: web\n    edited: "yes"/' "$1"
else
	sed -i 's/^  replicas: 2$/  replicas: 2 :/' "$1"
fi
