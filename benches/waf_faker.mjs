// Records as an application's API receives them, written by faker
// (@faker-js/faker, the test-data generator): people, addresses, companies,
// products, reviews, commits, file paths, user agents, cron lines, SVG data
// URLs, in sixteen locales. One JSON line per record: {"id", "kind", "doc"}.
// Seeded, so the same package version writes the same records.
//
//   node benches/waf_faker.mjs PATH/TO/faker/package COUNT
import { pathToFileURL } from "node:url";
import path from "node:path";

const [dir, countArg] = process.argv.slice(2);
const count = Number(countArg || 200);
const mod = await import(pathToFileURL(path.join(dir, "dist", "index.js")).href);
const LOCALES = ["en_US", "de", "fr", "es", "it", "pt_BR", "ru", "ja", "zh_CN", "ko", "ar", "he", "tr", "pl", "nl", "sv"];

const KINDS = {
  person: (f) => ({
    name: f.person.fullName(), bio: f.person.bio(), job: f.person.jobTitle(),
    email: f.internet.email(), username: f.internet.username(), phone: f.phone.number(),
    address: { street: f.location.streetAddress(true), city: f.location.city(), zip: f.location.zipCode(),
      country: f.location.country() },
  }),
  company: (f) => ({
    name: f.company.name(), slogan: f.company.catchPhrase(), pitch: f.company.buzzPhrase(),
    website: f.internet.url(), about: f.lorem.paragraph(),
  }),
  product: (f) => ({
    name: f.commerce.productName(), description: f.commerce.productDescription(),
    department: f.commerce.department(), price: f.commerce.price(), sku: f.string.alphanumeric(10),
    image: f.image.url(),
  }),
  review: (f) => ({
    title: f.lorem.sentence(), body: f.lorem.paragraphs(2), rating: f.number.int({ min: 1, max: 5 }),
    author: f.person.firstName(), tip: f.hacker.phrase(),
  }),
  commit: (f) => ({ message: f.git.commitMessage(), entry: f.git.commitEntry(), branch: f.git.branch() }),
  device: (f) => ({
    agent: f.internet.userAgent(), ip: f.internet.ipv4(), ipv6: f.internet.ipv6(), mac: f.internet.mac(),
    interface: f.system.networkInterface(), method: f.internet.httpMethod(),
  }),
  file: (f) => ({
    path: f.system.filePath(), dir: f.system.directoryPath(), name: f.system.commonFileName(),
    mime: f.system.mimeType(), version: f.system.semver(), schedule: f.system.cron(),
  }),
  schema: (f) => ({
    column: f.database.column(), type: f.database.type(), collation: f.database.collation(),
    engine: f.database.engine(), id: f.database.mongodbObjectId(),
  }),
  payment: (f) => ({
    iban: f.finance.iban(), memo: f.finance.transactionDescription(), currency: f.finance.currencyCode(),
    amount: f.finance.amount(),
  }),
  avatar: (f) => ({ svg: f.image.dataUri({ type: "svg-uri" }), color: f.color.rgb() }),
};

for (const locale of LOCALES) {
  const f = mod[`faker${locale.toUpperCase()}`];
  if (!f) throw new Error(`faker has no locale ${locale}`);
  f.seed(29);
  f.setDefaultRefDate(new Date("2026-01-01T00:00:00Z"));
  for (let n = 0; n < count; n++) {
    for (const [kind, make] of Object.entries(KINDS)) {
      let doc;
      try {
        doc = make(f);
      } catch {
        continue; // a locale without that kind's data
      }
      console.log(JSON.stringify({ id: `${locale}-${kind}-${n}`, kind, doc }));
    }
  }
}
