# An "editor" that makes the deployment invalid (replicas -1) and, when the
# file is reopened with the error, saves it again unchanged.
sed -i 's/^  replicas: 2$/  replicas: -1/' "$1"
