// validate.mjs — validates an OpenAPI document with @apidevtools/swagger-parser
// (JSON Schema validation against the official OpenAPI 3.1 schema, then
// $ref resolution). Prints "valid: <title> <version>" or the errors; exit 1
// when invalid. usage: node validate.mjs docs/openapi.yaml
import SwaggerParser from "@apidevtools/swagger-parser";

const file = process.argv[2];
if (!file) {
    console.error("usage: node validate.mjs FILE");
    process.exit(2);
}
try {
    const api = await SwaggerParser.validate(file);
    console.log(`valid: ${api.info.title} ${api.info.version} (OpenAPI ${api.openapi})`);
} catch (err) {
    console.error(`invalid: ${err.message}`);
    process.exit(1);
}
