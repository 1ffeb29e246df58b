// Placeholder until the API serves this section.
import { h, mount, empty, ready } from '../core.js';

export async function render(root) {
  mount(root, h('h1', null, 'fl'), empty('Nothing to show yet.'));
  ready('fl');
}
