# An "editor" for keelctl edit tests: sets the replicas of the opened
# deployment from 2 to 7.
sed -i 's/^  replicas: 2$/  replicas: 7/' "$1"
