// Text of both pages in Simplified Chinese (first) and English, and the #lang switch.
// Static text: elements carry data-i18n="key" (their textContent) or
// data-i18n-attr="attr:key;attr:key". Dynamic text: t(key, {param}).

const STORAGE_KEY = 'greenloop.lang';
export const LANGS = ['zh-CN', 'en'];

const DICT = {
  'zh-CN': {
    // Shared
    'common.skip': '跳到正文',
    'common.lang_button': 'English',
    'common.lang_button_label': 'Switch to English',
    'common.footer': 'Greenloop：双十一“绿色物流”回收行动的开放账本。积分与减碳量均记入可由任何人核验的哈希链账本，成员仅以匿名编号出现。',
    'common.dash': '—',
    'common.loading': '加载中…',
    'unit.kg_co2e': 'kg CO₂e',
    'unit.g_co2e': 'g CO₂e',
    'unit.points': '分',
    'unit.actions': '次',
    'unit.entries': '条',
    'unit.boxes': '个',
    'unit.kg': 'kg',
    'unit.books': '本',
    'unit.schools': '所',
    'fig.points': '奖励积分',
    'fig.co2e': '减碳量',
    'fig.actions': '回收行动',
    'col.rank': '名次',
    'col.day': '日期',
    'col.kg_co2e': '减碳量（kg CO₂e）',
    'col.points': '积分',
    'col.actions': '回收行动（次）',
    'chart.co2e': '减碳量（kg CO₂e）',
    'chart.actions': '回收行动（次）',
    'chart.axis_actions': '行动（次）',
    'chart.empty': '暂无每日数据。',
    'chart.unavailable': '图表无法加载，请查看下方的数据表。',
    'chart.table_toggle': '查看每日数据表',
    'err.network': '无法连接服务器',
    'err.bad_json': '服务器返回的数据无法读取',
    'err.http': 'HTTP 错误 {status}',
    'table.scroll_hint': '表格可左右滑动',

    // Public page
    'public.doc_title': '绿色物流 · 回收透明账本',
    'public.title': '绿色物流 · 回收透明账本',
    'public.tagline': '双十一快递纸箱、旧衣物与旧书回收行动 · 实时公开数据',
    'public.intro': '11 月 1 日至 20 日，在快递驿站扫码投递快递纸箱、旧衣物、旧鞋和旧书，在 App 中承诺回寄包装，或预约旧衣上门回收，都能获得回收奖励积分。每一笔积分都记入公开账本，任何人都可以核验。',
    'public.totals_h': '高校合计',
    'public.totals_note': '以下为各参与高校计入的合计数据（积分、减碳量和已记账的回收行动）。',
    'public.as_of': '数据截至 {time}',
    'public.as_of_none': '尚未有统计数据',
    'public.days_h': '每日进展',
    'public.days_caption': '每日数据（全部高校合计）',
    'public.days_fig': '全部高校每日减碳量与回收行动次数',
    'public.campus_h': '高校排行榜',
    'public.campus_note': '按减碳量排名。',
    'public.campus_caption': '高校排行（按减碳量从高到低）',
    'public.campus_col_name': '高校',
    'public.campus_col_city': '城市',
    'public.campus_empty': '暂无高校数据。',
    'public.portal_link': '高校工作人员：进入高校门户',
    'public.brand_h': '国货品牌绿色减量团',
    'public.brand_note': '参与回收行动的合作品牌，按回收的本品牌纸箱数排名。',
    'public.brand_caption': '合作品牌排行（按回收纸箱数从高到低）',
    'public.brand_col_brand': '品牌',
    'public.brand_col_boxes': '回收纸箱（个）',
    'public.brand_col_members': '参与成员（人）',
    'public.brand_empty': '暂无品牌数据。',
    'public.pack_h': '快递包装的第二次生命',
    'public.pack_note': '驿站回收的纸箱一部分直接用于寄出新的包裹；其余打包送往造纸厂，再生纸浆制成作业本，捐赠给小学。',
    'public.pack_collected': '回收纸箱',
    'public.pack_reused': '重复使用的纸箱',
    'public.pack_baled': '打包送往造纸厂',
    'public.pack_rate': '用回收纸箱寄出的包裹占比',
    'public.pack_workbooks': '捐赠作业本',
    'public.pack_schools': '受捐小学',
    'public.pack_stock': '驿站现有库存纸箱',
    'public.pack_no_rate': '尚无寄件报告',
    'public.load_error': '{what}加载失败：{error}。稍后会自动重试。',
    'public.what_campuses': '高校数据',
    'public.what_brands': '品牌数据',
    'public.what_packaging': '包装数据',

    // Witness
    'w.h': '你的浏览器正在核验账本',
    'w.intro': '账本由若干条哈希链组成，日志服务用 Ed25519 密钥签署每条链的检查点（Merkle 树的条目数与根哈希）。每位访客的浏览器都会自行验证这些签名，并证明账本只增不改：你上次访问时看到的记录，没有被修改、删除或调换顺序。',
    'w.key_label': '日志公钥',
    'w.key_note': '请将此公钥与活动公告中公布的公钥逐字核对；不一致则说明本页核验的不是官方账本。',
    'w.no_key': '（服务器未公布公钥）',
    'w.checking': '正在核验账本…',
    'w.first_title': '核验通过（首次访问）',
    'w.first': '{n} 个检查点的签名均已验证，并已保存在本浏览器中。下次访问时，浏览器将核验账本是否在此基础上只增不改。',
    'w.consistent_title': '账本一致',
    'w.consistent': '与你上次访问（{time}）时相比，账本只增加了新记录，你当时看到的内容没有被改动。{n} 个检查点的签名均已验证。',
    'w.failed_title': '⚠ 账本核验失败',
    'w.unkeyed_title': '无法核验',
    'w.unkeyed': '服务器没有公布日志公钥，因此本页无法核验任何内容。',
    'w.error_title': '暂时无法完成核验',
    'w.error': '稍后将自动重试。原因：{error}。',
    'w.why_key_changed': '日志公钥变了：与你上次访问时保存的公钥 {old} 不同。',
    'w.why_bad_checkpoint': '链 {chain} 的检查点签名无效（伪造或被篡改）：{error}',
    'w.why_inconsistent': '链 {chain} 与你上次访问时看到的账本不一致：{error}',
    'w.why_no_proof': '日志无法证明链 {chain} 延续了你上次看到的账本（{size_old} 条 → {size_new} 条）：{error}',
    'w.evidence_bundle': '请下载下面的证据文件并交给审计方。用命令行检查它同样会被拒绝：',
    'w.evidence_key': '请下载下面的证据文件（包含两个公钥和服务器本次返回的检查点），并与活动公告中的公钥核对。',
    'w.evidence_link': '下载证据：{file}',
    'w.evidence_show': '在页面上查看证据内容',
    'w.kept_note': '本浏览器保存的检查点没有被覆盖。',
    'w.chains_caption': '各条链的检查点',
    'w.col_chain': '链',
    'w.col_size': '条目数',
    'w.col_time': '签署时间',
    'w.col_status': '状态',
    'w.st_new': '签名有效，已保存',
    'w.st_same': '与上次访问一致',
    'w.st_grew': '签名有效，已从 {old} 条延续',
    'w.st_stale': '签名有效；服务器返回的是较旧的检查点，保留你已有的 {old} 条检查点',
    'w.st_missing': '本次未返回；保留你上次看到的检查点',
    'w.st_unchecked': '未核验',
    'w.st_signed': '签名有效',
    'w.st_failed': '核验失败',
    'w.st_pending': '待核验',
    'w.verifier_error': '验证程序无法运行（{error}）',
    'w.no_checkpoints': '日志尚未签署任何检查点。',

    // Campus page
    'campus.doc_title': '高校门户 · 绿色物流回收数据',
    'campus.title': '高校门户 · 绿色物流回收数据',
    'campus.tagline': '供高校工作人员查看本校成员的回收与减碳数据',
    'campus.form_h': '输入门户密钥',
    'campus.campus_label': '高校',
    'campus.key_label': '门户密钥',
    'campus.key_note': '密钥只保存在当前标签页中，关闭标签页即失效；它只能查看本校的数据。',
    'campus.submit': '查看本校数据',
    'campus.forget': '清除密钥',
    'campus.campuses_error': '无法加载高校列表：{error}',
    'campus.key_invalid': '此密钥对“{campus}”无效（{message}）。请检查所选高校和密钥。',
    'campus.load_error': '无法加载数据：{error}',
    'campus.need_key': '请输入门户密钥。',
    'campus.need_campus': '请选择高校。',
    'campus.choose': '请选择高校',
    'campus.campaign_h': '活动累计',
    'campus.today_h': '今日（{day}）',
    'campus.today_h_plain': '今日',
    'campus.days_h': '每日进展',
    'campus.days_caption': '本校每日数据',
    'campus.days_fig': '本校每日减碳量与回收行动次数',
    'campus.leaders_h': '成员排行榜',
    'campus.leaders_note': '成员只以匿名编号显示，按减碳量排名。',
    'campus.leaders_caption': '本校成员排行（按减碳量从高到低）',
    'campus.col_member': '成员（匿名编号）',
    'campus.col_balance': '积分余额',
    'campus.leaders_empty': '本校暂无成员数据。',
    'campus.more': '加载更多',
    'campus.member_h': '查询成员',
    'campus.member_label': '成员的平台用户 ID',
    'campus.member_note': '用户 ID 只用于本次查询，服务器会立即将其转换为匿名编号，不会保存。',
    'campus.member_submit': '查询',
    'campus.member_not_found': '该用户不是本校成员。',
    'campus.member_error': '查询失败：{error}',
    'campus.member_pseudonym': '匿名编号',
    'campus.member_balance': '积分余额',
    'campus.member_pledges': '未完成的回寄承诺：{n} 项',
    'campus.recent_caption': '最近的记录（本校）',
    'campus.recent_empty': '暂无本校记录。',
    'campus.col_time': '时间',
    'campus.col_kind': '类型',
    'campus.col_g_co2e': '减碳量（g CO₂e）',
    'campus.col_station': '驿站',
    'kind.scan': '扫码投递',
    'kind.pledge': '承诺回寄',
    'kind.pickup': '旧衣上门回收',
    'kind.correction': '碳因子修正（{kind}）',
    'campus.member_entries': '账本记录',
  },

  en: {
    'common.skip': 'Skip to content',
    'common.lang_button': '中文',
    'common.lang_button_label': '切换到中文',
    'common.footer': 'Greenloop: the open ledger of the Double 11 “Green Logistics” recycling campaign. Points and CO₂e are recorded in a hash-chained ledger anyone can verify; members appear only as pseudonyms.',
    'common.dash': '—',
    'common.loading': 'Loading…',
    'unit.kg_co2e': 'kg CO₂e',
    'unit.g_co2e': 'g CO₂e',
    'unit.points': 'points',
    'unit.actions': 'actions',
    'unit.entries': 'entries',
    'unit.boxes': 'boxes',
    'unit.kg': 'kg',
    'unit.books': 'workbooks',
    'unit.schools': 'schools',
    'fig.points': 'Points earned',
    'fig.co2e': 'CO₂e avoided',
    'fig.actions': 'Recycling actions',
    'col.rank': 'Rank',
    'col.day': 'Day',
    'col.kg_co2e': 'CO₂e avoided (kg)',
    'col.points': 'Points',
    'col.actions': 'Actions',
    'chart.co2e': 'CO₂e avoided (kg)',
    'chart.actions': 'Actions',
    'chart.axis_actions': 'Actions',
    'chart.empty': 'No daily figures yet.',
    'chart.unavailable': 'The chart could not be loaded; see the table below.',
    'chart.table_toggle': 'Show the daily figures as a table',
    'err.network': 'cannot reach the server',
    'err.bad_json': 'the server answered with unreadable data',
    'err.http': 'HTTP error {status}',
    'table.scroll_hint': 'The table scrolls sideways',

    'public.doc_title': 'Green Logistics · Open Recycling Ledger',
    'public.title': 'Green Logistics · Open Recycling Ledger',
    'public.tagline': 'Double 11 recycling of parcel boxes, old clothes and books · live public figures',
    'public.intro': 'From November 1 to 20, drop off parcel boxes, old clothes, shoes and books at a parcel station by scanning its QR code, pledge in the app to return packaging, or book a pickup of old clothes, and earn recycling points. Every point is recorded in a public ledger that anyone can verify.',
    'public.totals_h': 'Universities’ totals',
    'public.totals_note': 'Sums over all participating universities: points, CO₂e avoided and recycling actions credited.',
    'public.as_of': 'Figures as of {time}',
    'public.as_of_none': 'No figures yet',
    'public.days_h': 'Day by day',
    'public.days_caption': 'Daily figures (all universities)',
    'public.days_fig': 'CO₂e avoided and recycling actions per day, all universities',
    'public.campus_h': 'University ranking',
    'public.campus_note': 'Ranked by CO₂e avoided.',
    'public.campus_caption': 'Universities, most CO₂e avoided first',
    'public.campus_col_name': 'University',
    'public.campus_col_city': 'City',
    'public.campus_empty': 'No university figures yet.',
    'public.portal_link': 'University staff: open the campus portal',
    'public.brand_h': 'Domestic Brands Green Decrement Team',
    'public.brand_note': 'Partner brands of the campaign, ranked by the number of their boxes returned.',
    'public.brand_caption': 'Partner brands, most boxes returned first',
    'public.brand_col_brand': 'Brand',
    'public.brand_col_boxes': 'Boxes returned',
    'public.brand_col_members': 'Members',
    'public.brand_empty': 'No brand figures yet.',
    'public.pack_h': 'Packaging’s second life',
    'public.pack_note': 'Parcel stations reuse part of the boxes collected for outgoing parcels; the rest is baled for paper mills, whose pulp becomes workbooks donated to elementary schools.',
    'public.pack_collected': 'Boxes collected',
    'public.pack_reused': 'Boxes reused',
    'public.pack_baled': 'Baled for paper mills',
    'public.pack_rate': 'Parcels sent in recycled boxes',
    'public.pack_workbooks': 'Workbooks donated',
    'public.pack_schools': 'Schools reached',
    'public.pack_stock': 'Boxes in stock at stations',
    'public.pack_no_rate': 'no parcel reports yet',
    'public.load_error': 'Could not load the {what}: {error}. Retrying shortly.',
    'public.what_campuses': 'university figures',
    'public.what_brands': 'brand figures',
    'public.what_packaging': 'packaging figures',

    'w.h': 'Your browser checks the ledger',
    'w.intro': 'The ledger is a few hash chains. The log signs a checkpoint of each chain (the size and root of its Merkle tree) with an Ed25519 key. Every visitor’s browser checks these signatures itself and proves that the ledger only grew: nothing you saw on your last visit was changed, removed or reordered.',
    'w.key_label': 'The log’s public key',
    'w.key_note': 'Compare it, character by character, with the key published in the campaign announcement. If they differ, this page is not checking the official ledger.',
    'w.no_key': '(the server publishes no public key)',
    'w.checking': 'Checking the ledger…',
    'w.first_title': 'Verified (first visit)',
    'w.first': 'All {n} checkpoint signatures hold and the checkpoints are kept in this browser. On your next visit it will check that the ledger only grew from them.',
    'w.consistent_title': 'The ledger is consistent',
    'w.consistent': 'Since your last visit ({time}) the ledger has only grown: nothing you saw then was changed. All {n} checkpoint signatures hold.',
    'w.failed_title': '⚠ Ledger check FAILED',
    'w.unkeyed_title': 'Nothing can be checked',
    'w.unkeyed': 'The server publishes no public key for the log, so this page cannot check anything.',
    'w.error_title': 'The check could not run',
    'w.error': 'It will be retried shortly. Reason: {error}.',
    'w.why_key_changed': 'The log’s key changed: it is not the key {old} this browser kept on your last visit.',
    'w.why_bad_checkpoint': 'The checkpoint of chain {chain} does not hold (forged or altered): {error}',
    'w.why_inconsistent': 'Chain {chain} is not consistent with what you saw on your last visit: {error}',
    'w.why_no_proof': 'The log cannot prove that chain {chain} extends what you saw ({size_old} → {size_new} entries): {error}',
    'w.evidence_bundle': 'Download the evidence below and give it to an auditor. The command-line check refuses it too:',
    'w.evidence_key': 'Download the evidence below (both keys and the checkpoints served now) and compare the keys with the one in the campaign announcement.',
    'w.evidence_link': 'Download the evidence: {file}',
    'w.evidence_show': 'Show the evidence here',
    'w.kept_note': 'The checkpoints kept in this browser were not overwritten.',
    'w.chains_caption': 'Checkpoints of each chain',
    'w.col_chain': 'Chain',
    'w.col_size': 'Entries',
    'w.col_time': 'Signed at',
    'w.col_status': 'Status',
    'w.st_new': 'Signature holds; kept',
    'w.st_same': 'Same as on your last visit',
    'w.st_grew': 'Signature holds; extends your {old} entries',
    'w.st_stale': 'Signature holds; the server sent an older checkpoint, your {old} entries are kept',
    'w.st_missing': 'Not served this time; your last one is kept',
    'w.st_unchecked': 'Not checked',
    'w.st_signed': 'Signature holds',
    'w.st_failed': 'FAILED',
    'w.st_pending': 'Pending',
    'w.verifier_error': 'the verifier could not run ({error})',
    'w.no_checkpoints': 'The log has not signed any checkpoint yet.',

    'campus.doc_title': 'Campus portal · Green Logistics recycling',
    'campus.title': 'Campus portal · Green Logistics recycling',
    'campus.tagline': 'For university staff: your members’ recycling and CO₂e figures',
    'campus.form_h': 'Enter the portal key',
    'campus.campus_label': 'University',
    'campus.key_label': 'Portal key',
    'campus.key_note': 'The key is kept in this tab only and is gone when you close it. It shows your university’s data only.',
    'campus.submit': 'Show our figures',
    'campus.forget': 'Forget the key',
    'campus.campuses_error': 'Could not load the list of universities: {error}',
    'campus.key_invalid': 'This key is not valid for “{campus}” ({message}). Check the university and the key.',
    'campus.load_error': 'Could not load the figures: {error}',
    'campus.need_key': 'Enter the portal key.',
    'campus.need_campus': 'Choose the university.',
    'campus.choose': 'Choose a university',
    'campus.campaign_h': 'Campaign so far',
    'campus.today_h': 'Today ({day})',
    'campus.today_h_plain': 'Today',
    'campus.days_h': 'Day by day',
    'campus.days_caption': 'Daily figures of the university',
    'campus.days_fig': 'CO₂e avoided and recycling actions per day, this university',
    'campus.leaders_h': 'Member leaderboard',
    'campus.leaders_note': 'Members appear only as pseudonyms, most CO₂e avoided first.',
    'campus.leaders_caption': 'Members, most CO₂e avoided first',
    'campus.col_member': 'Member (pseudonym)',
    'campus.col_balance': 'Points balance',
    'campus.leaders_empty': 'No member figures yet.',
    'campus.more': 'Load more',
    'campus.member_h': 'Look up a member',
    'campus.member_label': 'Member’s platform user id',
    'campus.member_note': 'The user id is used for this lookup only: the server turns it into the pseudonym at once and never stores it.',
    'campus.member_submit': 'Look up',
    'campus.member_not_found': 'This user is not a member of this university.',
    'campus.member_error': 'The lookup failed: {error}',
    'campus.member_pseudonym': 'Pseudonym',
    'campus.member_balance': 'Points balance',
    'campus.member_pledges': 'Open return pledges: {n}',
    'campus.recent_caption': 'Latest entries (at this university)',
    'campus.recent_empty': 'No entries at this university yet.',
    'campus.col_time': 'Time',
    'campus.col_kind': 'Kind',
    'campus.col_g_co2e': 'CO₂e avoided (g)',
    'campus.col_station': 'Station',
    'kind.scan': 'QR drop-off',
    'kind.pledge': 'Return pledge',
    'kind.pickup': 'Clothes pickup',
    'kind.correction': 'Factor correction ({kind})',
    'campus.member_entries': 'Ledger entries',
  },
};

function readStoredLang() {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    return LANGS.includes(v) ? v : null;
  } catch {
    return null; // storage disabled: Chinese by default
  }
}

let current = readStoredLang() || 'zh-CN';

export function lang() {
  return current;
}

// t('key', {name: value}): the text in the current language, falling back to Chinese, then the key.
export function t(key, params) {
  const text = DICT[current][key] ?? DICT['zh-CN'][key] ?? key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

// Fill every data-i18n / data-i18n-attr element under root.
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':').map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
}

const listeners = new Set();

// Called (with the new language) after every switch, to re-render dynamic text.
export function onLangChange(fn) {
  listeners.add(fn);
}

export function setLang(next) {
  if (!LANGS.includes(next)) return;
  current = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // not remembered; the switch still works for this page
  }
  render();
  for (const fn of listeners) {
    try {
      fn(next);
    } catch (e) {
      // one broken listener must not stop the others (and must not reach the console)
    }
  }
}

function render() {
  document.documentElement.lang = current;
  applyI18n();
  const button = document.getElementById('lang');
  if (button) {
    // The button names the other language, in that language.
    button.lang = current === 'zh-CN' ? 'en' : 'zh-CN';
  }
}

let started = false;

// Apply the remembered language and wire the #lang button (once per page).
export function initLang() {
  if (started) return;
  started = true;
  render();
  const button = document.getElementById('lang');
  if (button) {
    button.addEventListener('click', () => setLang(current === 'zh-CN' ? 'en' : 'zh-CN'));
  }
}
