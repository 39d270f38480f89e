import { hello } from '@app/domain';
import { x } from './other.js';
console.log(hello(x));
