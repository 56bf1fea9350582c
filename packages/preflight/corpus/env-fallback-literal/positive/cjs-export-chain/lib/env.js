// The helper is exported through a chain inside a declaration (`var read = module.exports = …`).
var read = (module.exports = (name) => process.env[name]);
read.names = ['SESSION_SECRET'];
