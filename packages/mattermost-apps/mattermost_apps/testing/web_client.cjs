// Runs Mattermost's own web-client code (mattermost-redux, pinned in package.json) on JSON the tests send.
// stdin: a JSON array of jobs, {"fn": "validateBindings" | "cleanBinding" | "cleanForm" | "constants", "arg", "top"}.
// stdout: a JSON array of {"returned", "arg"}: what the function returned, and its argument after the call
// (the functions change their argument in place, so each job works on its own copy).
'use strict';

const apps = require('mattermost-redux/utils/apps');
const constants = require('mattermost-redux/constants/apps');

function run(job) {
    const arg = job.arg === undefined ? undefined : JSON.parse(JSON.stringify(job.arg));
    switch (job.fn) {
    case 'validateBindings':
        return {returned: apps.validateBindings(arg), arg};
    case 'cleanBinding':
        return {returned: apps.cleanBinding(arg, job.top), arg};
    case 'cleanForm':
        return {returned: apps.cleanForm(arg), arg};
    case 'constants':
        return {
            returned: {
                AppBindingLocations: constants.AppBindingLocations,
                AppCallResponseTypes: constants.AppCallResponseTypes,
                AppExpandLevels: constants.AppExpandLevels,
                AppFieldTypes: constants.AppFieldTypes,
            },
        };
    default:
        throw new Error(`unknown function ${job.fn}`);
    }
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
    input += chunk;
});
process.stdin.on('end', () => {
    const results = JSON.parse(input).map(run);
    process.stdout.write(JSON.stringify(results));
});
