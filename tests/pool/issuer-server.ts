/**
 * The loopback issuer's HTTPS server (started by pool.ts inside the pool's network namespace):
 * serves <dir>/www (discovery document, JWKS) with <dir>/server.pem on port <port>, and logs
 * every request, so a test can tell whether HTCondor fetched the keys.
 * Usage: node -r ts-node/register/transpile-only issuer-server.ts <dir> <port>
 */
import * as fs from "fs";
import * as https from "https";
import * as path from "path";

const [dir, port] = process.argv.slice(2);
const www = path.join(dir, "www");
https.createServer({ cert: fs.readFileSync(path.join(dir, "server.pem")), key: fs.readFileSync(path.join(dir, "server.key")) }, (req, res) => {
    const file = path.join(www, path.normalize(decodeURIComponent((req.url ?? "/").split("?")[0])));
    const ok = file.startsWith(www + path.sep) && fs.existsSync(file) && fs.statSync(file).isFile();
    console.log(`${new Date().toISOString()} ${req.method} ${req.url} ${ok ? 200 : 404}`);
    res.writeHead(ok ? 200 : 404, { "content-type": "application/json" });
    res.end(ok ? fs.readFileSync(file) : "{}");
}).listen(Number(port), "0.0.0.0", () => console.log(`listening on ${port}`));
