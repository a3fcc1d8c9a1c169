// Every text the kiosk screens show, in Bahasa Indonesia (default) and English.
// Texts from the server come as message_id / message_en and are picked by msg().

const ID = {
  app_name: "Cedoka",
  lang_label: "Bahasa",
  no_secret_title: "Jendela ini harus dibuka oleh Cedoka",
  no_secret_body: "Tutup jendela ini, lalu buka aplikasi Cedoka dari menu komputer. Jika tetap muncul, nyalakan ulang komputer atau hubungi petugas IT kabupaten.",
  loading: "Memuat…",
  network_error: "Aplikasi Cedoka di komputer ini tidak menjawab. Tunggu sebentar lalu coba lagi; jika tetap, nyalakan ulang komputer.",
  unknown_error: "Terjadi kesalahan. Coba lagi.",
  stale_title: "Alamat jendela ini sudah tidak berlaku",
  stale_body: "Cedoka dijalankan ulang setelah jendela ini dibuka. Tutup jendela ini, lalu buka Cedoka lagi dari menu komputer. Jika tetap muncul, nyalakan ulang komputer.",
  unreachable_title: "Cedoka belum menjawab",
  unreachable_body: "Layanan Cedoka di komputer ini belum menjawab — mungkin baru dinyalakan. Layar ini mencoba lagi sendiri. Jika lebih dari 2 menit, tutup jendela ini lalu buka Cedoka lagi dari menu; jika tetap, nyalakan ulang komputer.",
  // sign-in
  signin_title: "Masuk",
  signin_pick: "Sentuh nama Anda",
  no_operators: "Belum ada petugas terdaftar di komputer ini. Minta petugas IT kabupaten untuk menambahkan petugas.",
  pin_title: "PIN untuk {name}",
  pin_help: "Masukkan PIN Anda (4–8 angka).",
  pin_again_title: "Masukkan PIN Anda lagi",
  new_pin_title: "{name}: buat PIN Anda sendiri",
  new_pin_again_title: "{name}: ketik PIN baru sekali lagi",
  new_pin_help: "PIN dari kabupaten hanya sekali pakai. Pilih 4–8 angka yang hanya Anda ketahui.",
  new_pin_mismatch: "Kedua PIN berbeda — coba lagi.",
  sign_in: "Masuk",
  back: "Kembali",
  cancel: "Batal",
  locked_minutes: "Coba lagi dalam {n} menit.",
  session_over: "Sesi berakhir — silakan masuk lagi.",
  supervisor: "Penyelia",
  // header
  logout: "Keluar",
  // link
  link_ok: "Tersambung ke server kabupaten",
  link_down: "Tidak tersambung — terakhir tersambung {when}",
  link_never: "Belum tersambung ke server kabupaten",
  link_revoked: "Komputer ini dicabut oleh kabupaten — hubungi petugas IT kabupaten",
  link_frozen: "Belum ada konfirmasi dari kabupaten",
  link_frozen_since: "Belum ada konfirmasi dari kabupaten sejak {when}",
  link_offline_note: "Dokumen yang sudah diterima tetap bisa dicetak.",
  just_now: "baru saja",
  minutes_ago: "{n} menit lalu",
  hours_ago: "{n} jam lalu",
  days_ago: "{n} hari lalu",
  // printers
  printer_a4: "Printer A4",
  printer_receipt: "Printer struk",
  pr_ready: "Siap",
  pr_busy: "Sedang mencetak",
  pr_off: "Printer mati atau tidak tersambung",
  pr_stopped: "Antrean printer dihentikan",
  pr_not_accepting: "Printer tidak menerima cetakan",
  pr_unknown: "Keadaan tidak diketahui",
  pr_no_paper: "Kertas habis",
  pr_low_paper: "Kertas hampir habis",
  pr_jam: "Kertas macet",
  pr_door: "Tutup printer terbuka",
  pr_ink_low: "Tinta hampir habis",
  pr_ink_out: "Tinta habis",
  pr_not_a4: "Kertas bukan A4",
  pr_no_service: "Layanan cetak tidak berjalan",
  pr_not_installed: "CUPS tidak terpasang",
  pr_receipt_not_installed: "Program printer struk tidak terpasang",
  pr_problem: "Printer bermasalah",
  enable_printer: "Aktifkan printer",
  printer_enabled: "Printer diaktifkan.",
  // queue
  queue_title: "Antrean dokumen",
  enter_code: "Masukkan kode",
  history: "Riwayat hari ini",
  settings: "Pengaturan",
  queue_empty: "Belum ada dokumen untuk dicetak.",
  arrived: "Tiba {when}",
  expires: "Batas cetak {when}",
  queue_count: "{n} berkas",
  tomorrow: "besok",
  st_held_claim: "Menunggu kode warga",
  st_held: "Menunggu petugas",
  st_released: "Siap dicetak",
  st_printing: "Sedang dicetak",
  st_printed: "Tercetak — periksa lalu serahkan",
  st_failed: "Gagal dicetak",
  st_purged: "Sudah diserahkan",
  st_cancelled: "Dibatalkan oleh Disdukcapil",
  cancelled_paper_help: "Jangan diserahkan. Hancurkan lembarnya.",
  sheets_destroyed: "Lembar sudah dihancurkan",
  sheets_discarded: "Tercatat: lembar dihancurkan.",
  staff_release: "Cetak tanpa kode",
  retry: "Coba lagi",
  check_result: "Periksa hasil",
  reprints: "dicetak ulang {n}×",
  copies: "{n} rangkap",
  yesterday: "kemarin",
  // claim
  claim_title: "Kode pengambilan",
  claim_help: "Ketik 12 angka dari pesan WhatsApp warga, atau pindai kodenya.",
  claim_count: "{n} dari 12 angka",
  open_code: "Buka",
  clear: "Bersihkan",
  delete: "Hapus",
  claim_malformed: "Kode salah ketik — periksa lagi.",
  claim_locked_wait: "Tunggu {t} sebelum mencoba lagi.",
  claim_locked_now: "Terlalu banyak kode salah. Pengambilan dikunci sementara.",
  checking: "Memeriksa…",
  idle_back: "Tidak ada kegiatan — kembali ke antrean.",
  // bundle
  bundle_title: "Dokumen untuk {name}",
  bundle_help: "Periksa dokumen di bawah (ketuk untuk melihat semua halaman), lalu tekan Cetak.",
  print: "Cetak",
  preview_failed: "Pratinjau tidak bisa ditampilkan",
  doc_pages_note: "Halaman pertama",
  // zoom view, page and sheet counts (issue 16)
  zoom_open: "Ketuk untuk memperbesar",
  zoom_badge: "Perbesar",
  page_n_of_m: "Halaman {n} dari {m}",
  zoom_count: "Semua dokumen: {n}/{m}",
  zoom_hint: "Ketuk halaman untuk memperbesar",
  zoom_hint_large: "Geser untuk melihat bagian lain · ketuk lagi untuk mengecilkan",
  previous: "Sebelumnya",
  next: "Berikutnya",
  close: "Tutup",
  pages_one: "1 halaman",
  pages_n: "{n} halaman",
  sheets_one: "1 lembar",
  sheets_n: "{n} lembar",
  sheets_total: "Seharusnya keluar {n} lembar kertas A4 — hitung dan periksa setiap lembar.",
  sheets_total_one: "Seharusnya keluar 1 lembar kertas A4 — periksa lembarnya.",
  // printing
  printing_title: "Sedang mencetak…",
  printing_help: "Jangan matikan printer. Tunggu sampai semua dokumen selesai.",
  reprinting_title: "Mencetak ulang…",
  ds_waiting: "Menunggu",
  ds_submitted: "Sedang dicetak",
  ds_printing: "Sedang dicetak",
  ds_done: "Selesai",
  ds_failed: "Gagal",
  ds_none: "Belum dicetak",
  ds_kept: "Sudah tercetak sebelumnya",
  print_failed: "Sebagian dokumen gagal dicetak. Periksa printer, lalu tekan Coba lagi.",
  stuck_title: "Pencetakan tertahan",
  behind_busy: "Menunggu giliran: printer sedang mencetak dokumen lain. Dicetak otomatis sesudahnya.",
  behind_stuck: "Menunggu giliran: printer tertahan pada dokumen yang sedang dicetak. Dicetak otomatis setelah printer jalan lagi.",
  way_enable: "Perbaiki printer (kertas macet, kertas habis, tutup terbuka), lalu tekan {enable}: dokumen dilanjutkan dan keluar satu kali.",
  way_cancel: "Tidak jadi dicetak? Batalkan di printer (tombol Batal): dokumen menjadi Gagal, lalu tekan {retry} — hanya yang belum keluar dicetak lagi.",
  way_spoil: "Lembar keluar rusak? Setelah selesai, tekan {check} lalu {bad}.",
  // blocked
  blocked_title: "Printer belum siap",
  blocked_help: "Belum ada yang dicetak. Perbaiki printer, lalu tekan Coba lagi.",
  // confirm
  confirm_title: "Periksa hasil cetak",
  confirm_help: "Apakah semua lembar tercetak dengan baik?",
  confirm_ok: "Tercetak baik — serahkan",
  confirm_bad: "Kosong / macet / rusak",
  destroy_sheets: "Hancurkan lembar yang rusak — jangan dibuang utuh, berisi data pribadi.",
  reprinted: "Sudah dicetak ulang. Periksa hasilnya lagi.",
  // spoil
  spoil_title: "Apa yang terjadi?",
  spoil_which: "Dokumen mana yang rusak?",
  sp_blank: "Kertas kosong",
  sp_jammed: "Kertas macet",
  sp_spoiled: "Cetakan rusak / bercak",
  sp_cut_off: "Terpotong",
  reprint_note: "Dokumen akan dicetak ulang.",
  spoil_pick_help: "Centang dokumen yang lembarnya kosong, macet atau rusak. Hanya dokumen itu yang dicetak ulang.",
  clear_jam: "Keluarkan dulu kertas yang macet dari printer, lalu tutup kembali printernya. Sesudah itu tekan Cetak ulang.",
  check_printer: "Periksa printer dulu: kertas A4 terisi rapi dan tidak ada kertas yang tersangkut.",
  reprint_pick: "Pilih dokumennya dulu",
  reprint_one: "Cetak ulang 1 dokumen",
  reprint_n: "Cetak ulang {n} dokumen",
  // handover
  done_title: "Dokumen diserahkan",
  done_help: "Terima kasih. Berkas dokumen sudah dihapus dari komputer ini.",
  receipt_printed: "Tanda terima tercetak.",
  receipt_none: "Tidak ada printer struk — tanpa tanda terima.",
  receipt_failed: "Tanda terima gagal dicetak.",
  back_to_queue: "Kembali ke antrean",
  // staff release
  staff_title: "Cetak tanpa kode",
  staff_help: "Pilih alasan mengapa dokumen dicetak tanpa kode warga. Alasan ini dicatat.",
  rs_no_phone: "Warga tidak punya HP",
  rs_lost_code: "Kode hilang",
  rs_staff_job: "Dokumen memang dikirim tanpa kode",
  rs_other: "Lainnya",
  staff_pin_help: "Cetak tanpa kode dicatat atas nama Anda.",
  confirm_pin: "Lanjut",
  // history
  history_title: "Riwayat hari ini",
  history_empty: "Belum ada kegiatan hari ini.",
  h_time: "Jam",
  h_operator: "Petugas",
  h_action: "Kegiatan",
  h_docs: "Dokumen",
  h_outcome: "Hasil",
  system: "Sistem",
  // settings
  settings_title: "Pengaturan",
  settings_pick_supervisor: "Pengaturan hanya untuk penyelia. Penyelia: sentuh nama Anda.",
  settings_no_supervisor: "Belum ada penyelia di kiosk ini — hubungi petugas IT kabupaten.",
  settings_pin_title: "PIN penyelia: {name}",
  settings_pin_help: "Pengaturan hanya untuk penyelia. Masukkan PIN {name}.",
  settings_by: "Dibuka oleh penyelia {name}",
  settings_a4: "Printer A4 (dokumen)",
  settings_receipt: "Printer struk",
  settings_found: "Sentuh printer struk yang terpasang:",
  settings_none_found: "Tidak ada printer struk yang terdeteksi. Sambungkan printer (USB), nyalakan, lalu tekan Cari lagi.",
  settings_found_usb: "USB",
  settings_found_cups: "antrean CUPS",
  settings_no_receipt: "Tanpa printer struk",
  settings_rescan: "Cari lagi",
  settings_type_address: "Ketik alamat (petugas IT)",
  settings_receipt_hint: "Contoh: escpos:usb:04b8:0e15 — kosongkan jika tidak ada",
  settings_language: "Bahasa bawaan",
  settings_current: "Sekarang: {v}",
  settings_none: "belum diatur",
  settings_no_queues: "Tidak ada antrean printer yang ditemukan di komputer ini.",
  save: "Simpan",
  saved: "Tersimpan.",
  settings_staff: "Petugas di kiosk ini",
  settings_staff_help: "Petugas yang ditambahkan di sini dilaporkan ke kabupaten. Petugas dari kabupaten dikelola oleh kabupaten.",
  staff_add: "Tambah petugas",
  staff_id_hint: "ID petugas, mis. rudi",
  staff_name_hint: "Nama",
  staff_pin_hint: "PIN awal (4–8 angka)",
  staff_added: "Petugas {name} ditambahkan.",
  test_page_a4: "Halaman uji A4",
  test_page_receipt: "Struk uji",
  test_page_done: "Halaman uji dikirim ke printer.",
  settings_expired: "Waktu pengaturan habis — masukkan PIN lagi.",
};

const EN = {
  app_name: "Cedoka",
  lang_label: "Language",
  no_secret_title: "This window must be opened by Cedoka",
  no_secret_body: "Close this window, then open the Cedoka application from the computer's menu. If this keeps appearing, restart the computer or call the district IT staff.",
  loading: "Loading…",
  network_error: "The Cedoka application on this computer does not answer. Wait a moment and try again; if it persists, restart the computer.",
  unknown_error: "Something went wrong. Try again.",
  stale_title: "This window's address is out of date",
  stale_body: "Cedoka was started again after this window was opened. Close this window, then open Cedoka again from the computer's menu. If this keeps appearing, restart the computer.",
  unreachable_title: "Cedoka does not answer yet",
  unreachable_body: "The Cedoka service on this computer does not answer yet — it may just be starting. This screen keeps trying by itself. If it takes more than 2 minutes, close this window and open Cedoka again from the menu; if it persists, restart the computer.",
  signin_title: "Sign in",
  signin_pick: "Touch your name",
  no_operators: "No staff are registered on this computer yet. Ask the district IT staff to add staff.",
  pin_title: "PIN for {name}",
  pin_help: "Enter your PIN (4–8 digits).",
  pin_again_title: "Enter your PIN again",
  new_pin_title: "{name}: choose your own PIN",
  new_pin_again_title: "{name}: type the new PIN once more",
  new_pin_help: "The PIN from the district works once. Choose 4–8 digits only you know.",
  new_pin_mismatch: "The two PINs differ — try again.",
  sign_in: "Sign in",
  back: "Back",
  cancel: "Cancel",
  locked_minutes: "Try again in {n} minutes.",
  session_over: "Your session ended — please sign in again.",
  supervisor: "Supervisor",
  logout: "Sign out",
  link_ok: "Connected to the district server",
  link_down: "Not connected — last connected {when}",
  link_never: "Not connected to the district server yet",
  link_revoked: "This computer was revoked by the district — call the district IT staff",
  link_frozen: "No confirmation from the district yet",
  link_frozen_since: "No confirmation from the district since {when}",
  link_offline_note: "Documents already received can still be printed.",
  just_now: "just now",
  minutes_ago: "{n} min ago",
  hours_ago: "{n} h ago",
  days_ago: "{n} days ago",
  printer_a4: "A4 printer",
  printer_receipt: "Receipt printer",
  pr_ready: "Ready",
  pr_busy: "Printing",
  pr_off: "Printer off or not connected",
  pr_stopped: "Printer queue stopped",
  pr_not_accepting: "Printer refuses jobs",
  pr_unknown: "State unknown",
  pr_no_paper: "Out of paper",
  pr_low_paper: "Paper low",
  pr_jam: "Paper jam",
  pr_door: "Printer cover open",
  pr_ink_low: "Ink low",
  pr_ink_out: "Out of ink",
  pr_not_a4: "Paper is not A4",
  pr_no_service: "Print service not running",
  pr_not_installed: "CUPS is not installed",
  pr_receipt_not_installed: "Receipt printer program not installed",
  pr_problem: "Printer problem",
  enable_printer: "Enable printer",
  printer_enabled: "Printer enabled.",
  queue_title: "Document queue",
  enter_code: "Enter code",
  history: "Today's history",
  settings: "Settings",
  queue_empty: "No documents to print yet.",
  arrived: "Arrived {when}",
  expires: "Print by {when}",
  queue_count: "{n} in the queue",
  tomorrow: "tomorrow",
  st_held_claim: "Waiting for the resident's code",
  st_held: "Waiting for staff",
  st_released: "Ready to print",
  st_printing: "Printing",
  st_printed: "Printed — check, then hand over",
  st_failed: "Printing failed",
  st_purged: "Handed over",
  st_cancelled: "Cancelled by Disdukcapil",
  cancelled_paper_help: "Do not hand it over. Destroy the sheets.",
  sheets_destroyed: "Sheets destroyed",
  sheets_discarded: "Recorded: the sheets were destroyed.",
  staff_release: "Print without code",
  retry: "Try again",
  check_result: "Check result",
  reprints: "reprinted {n}×",
  copies: "{n} copies",
  yesterday: "yesterday",
  claim_title: "Claim code",
  claim_help: "Type the 12 digits from the resident's WhatsApp message, or scan the code.",
  claim_count: "{n} of 12 digits",
  open_code: "Open",
  clear: "Clear",
  delete: "Delete",
  claim_malformed: "Code mistyped — check it again.",
  claim_locked_wait: "Wait {t} before trying again.",
  claim_locked_now: "Too many wrong codes. Release is locked for a while.",
  checking: "Checking…",
  idle_back: "No activity — back to the queue.",
  bundle_title: "Documents for {name}",
  bundle_help: "Check the documents below (tap one to see every page), then press Print.",
  print: "Print",
  preview_failed: "Preview cannot be shown",
  doc_pages_note: "First page",
  zoom_open: "Tap to enlarge",
  zoom_badge: "Enlarge",
  page_n_of_m: "Page {n} of {m}",
  zoom_count: "All documents: {n}/{m}",
  zoom_hint: "Tap the page to enlarge it",
  zoom_hint_large: "Drag to see other parts · tap again to fit the screen",
  previous: "Previous",
  next: "Next",
  close: "Close",
  pages_one: "1 page",
  pages_n: "{n} pages",
  sheets_one: "1 sheet",
  sheets_n: "{n} sheets",
  sheets_total: "{n} A4 sheets should come out — count them and check each one.",
  sheets_total_one: "1 A4 sheet should come out — check it.",
  printing_title: "Printing…",
  printing_help: "Do not switch the printer off. Wait until every document is done.",
  reprinting_title: "Reprinting…",
  ds_waiting: "Waiting",
  ds_submitted: "Printing",
  ds_printing: "Printing",
  ds_done: "Done",
  ds_failed: "Failed",
  ds_none: "Not printed",
  ds_kept: "Printed before",
  print_failed: "Some documents failed to print. Check the printer, then press Try again.",
  stuck_title: "Printing is stuck",
  behind_busy: "Waiting its turn: the printer is printing another job. It prints by itself right after.",
  behind_stuck: "Waiting its turn: the printer is stuck on the job being printed. It prints by itself once the printer runs again.",
  way_enable: "Fix the printer (paper jam, no paper, cover open), then press {enable}: the job goes on and comes out once.",
  way_cancel: "Not to be printed after all? Cancel it at the printer (its Cancel button): the job becomes Failed, then press {retry} — only what did not come out prints again.",
  way_spoil: "A sheet came out damaged? When it is done, press {check}, then {bad}.",
  blocked_title: "The printer is not ready",
  blocked_help: "Nothing was printed yet. Fix the printer, then press Try again.",
  confirm_title: "Check the printout",
  confirm_help: "Did every sheet print well?",
  confirm_ok: "Printed well — hand over",
  confirm_bad: "Blank / jammed / damaged",
  destroy_sheets: "Destroy the damaged sheets — do not throw them away whole, they hold personal data.",
  reprinted: "Reprinted. Check the result again.",
  spoil_title: "What happened?",
  spoil_which: "Which documents are damaged?",
  sp_blank: "Blank sheet",
  sp_jammed: "Paper jammed",
  sp_spoiled: "Damaged / smudged print",
  sp_cut_off: "Cut off",
  reprint_note: "The document will be printed again.",
  spoil_pick_help: "Tick the documents whose sheets are blank, jammed or damaged. Only those are printed again.",
  clear_jam: "First take the jammed paper out of the printer and close the printer again. Then press Reprint.",
  check_printer: "Check the printer first: A4 paper loaded neatly, and no paper stuck inside.",
  reprint_pick: "Choose the documents first",
  reprint_one: "Reprint 1 document",
  reprint_n: "Reprint {n} documents",
  done_title: "Documents handed over",
  done_help: "Thank you. The document files were deleted from this computer.",
  receipt_printed: "Receipt printed.",
  receipt_none: "No receipt printer — no receipt.",
  receipt_failed: "The receipt failed to print.",
  back_to_queue: "Back to the queue",
  staff_title: "Print without code",
  staff_help: "Choose why the document is printed without the resident's code. The reason is recorded.",
  rs_no_phone: "Resident has no phone",
  rs_lost_code: "Code lost",
  rs_staff_job: "The document came without a code",
  rs_other: "Other",
  staff_pin_help: "Printing without a code is recorded in your name.",
  confirm_pin: "Continue",
  history_title: "Today's history",
  history_empty: "No activity today yet.",
  h_time: "Time",
  h_operator: "Staff",
  h_action: "Action",
  h_docs: "Documents",
  h_outcome: "Outcome",
  system: "System",
  settings_title: "Settings",
  settings_pick_supervisor: "Settings are for supervisors only. Supervisor: tap your name.",
  settings_no_supervisor: "This kiosk has no supervisor yet — call the district IT staff.",
  settings_pin_title: "Supervisor PIN: {name}",
  settings_pin_help: "Settings are for supervisors only. Enter the PIN of {name}.",
  settings_by: "Opened by supervisor {name}",
  settings_a4: "A4 printer (documents)",
  settings_receipt: "Receipt printer",
  settings_found: "Tap the receipt printer that is connected:",
  settings_none_found: "No receipt printer was found. Connect the printer (USB), switch it on, then press Search again.",
  settings_found_usb: "USB",
  settings_found_cups: "CUPS queue",
  settings_no_receipt: "No receipt printer",
  settings_rescan: "Search again",
  settings_type_address: "Type an address (IT staff)",
  settings_receipt_hint: "Example: escpos:usb:04b8:0e15 — leave empty if there is none",
  settings_language: "Default language",
  settings_current: "Now: {v}",
  settings_none: "not set",
  settings_no_queues: "No printer queues were found on this computer.",
  save: "Save",
  saved: "Saved.",
  settings_staff: "Staff on this kiosk",
  settings_staff_help: "Staff added here are reported to the district. Staff from the district are managed there.",
  staff_add: "Add a staff member",
  staff_id_hint: "Operator id, e.g. rudi",
  staff_name_hint: "Name",
  staff_pin_hint: "First PIN (4–8 digits)",
  staff_added: "{name} added.",
  test_page_a4: "A4 test page",
  test_page_receipt: "Test receipt",
  test_page_done: "Test page sent to the printer.",
  settings_expired: "Settings time is up — enter your PIN again.",
};

// Audit actions and outcomes in plain words.
const ACTIONS = {
  id: {
    login: "Masuk", login_failed: "PIN salah", logout: "Keluar", claim_wrong: "Kode salah",
    release_code: "Kode warga cocok", release_staff: "Cetak tanpa kode", print: "Dicetak",
    handover: "Diserahkan", spoil: "Rusak, dicetak ulang", retry: "Dicetak lagi",
    printer_enable: "Printer diaktifkan", settings: "Pengaturan diubah", test_page: "Halaman uji",
    receipt: "Tanda terima", preview: "Dokumen dibuka",
  },
  en: {
    login: "Signed in", login_failed: "Wrong PIN", logout: "Signed out", claim_wrong: "Wrong code",
    release_code: "Resident's code accepted", release_staff: "Print without code", print: "Printed",
    handover: "Handed over", spoil: "Spoiled, reprinted", retry: "Printed again",
    printer_enable: "Printer enabled", settings: "Settings changed", test_page: "Test page",
    receipt: "Receipt", preview: "Documents opened",
  },
};
// A refused step in words that do not read as done ("Pengaturan diubah" + "Ditolak" read
// as a change); a refused claim code by what was wrong with it.
const REFUSED = {
  id: {
    settings: "Pengaturan ditolak", print: "Cetak ditolak", test_page: "Halaman uji ditolak",
    release_staff: "Cetak tanpa kode ditolak", claim_used: "Kode sudah dipakai",
    claim_cancelled: "Dokumen kode ini dibatalkan", claim_expired: "Kode kedaluwarsa",
    claim_locked: "Kode ditolak: sedang dikunci",
  },
  en: {
    settings: "Settings refused", print: "Printing refused", test_page: "Test page refused",
    release_staff: "Print without code refused", claim_used: "Code used already",
    claim_cancelled: "This code's documents were cancelled", claim_expired: "Code expired",
    claim_locked: "Code refused: locked",
  },
};
// Sign-ins and sign-outs that follow one another are one row of the history.
const SIGN_GROUP = {
  id: "Masuk dan keluar ({n}×)",
  en: "Sign-ins and sign-outs ({n}×)",
};
const SIGN_GROUP_TOGGLE = {
  id: ["Rincian", "Ringkas"],
  en: ["Details", "Fold"],
};
const OUTCOMES = {
  id: { ok: "Berhasil", refused: "Ditolak", failed: "Gagal", locked: "Dikunci", printed: "Tercetak",
    purged: "Diserahkan", handed_over: "Diserahkan", none: "—" },
  en: { ok: "Done", refused: "Refused", failed: "Failed", locked: "Locked", printed: "Printed",
    purged: "Handed over", handed_over: "Handed over", none: "—" },
};
const REASONS = {
  id: {
    no_phone: "warga tidak punya HP", lost_code: "kode hilang", staff_job: "dokumen memang tanpa kode",
    other: "lainnya", spoiled_blank: "kertas kosong", spoiled_jammed: "kertas macet",
    spoiled_spoiled: "cetakan rusak", spoiled_cut_off: "terpotong",
    spoiled_cancelled: "dibatalkan Disdukcapil, lembar dihancurkan", media_empty: "kertas habis",
    offline: "printer mati", stopped: "antrean dihentikan", not_accepting: "printer menolak",
    media_not_a4: "kertas bukan A4", printer_error: "kesalahan printer", pin_wrong: "PIN salah",
    operator_locked: "terlalu banyak PIN salah", not_supervisor: "bukan penyelia",
    claim_wrong: "kode tidak cocok", claim_locked: "terlalu banyak kode salah",
    printers: "printer", language: "bahasa", claim_code: "dengan kode warga",
  },
  en: {
    no_phone: "resident has no phone", lost_code: "code lost", staff_job: "came without a code",
    other: "other", spoiled_blank: "blank sheet", spoiled_jammed: "paper jammed",
    spoiled_spoiled: "damaged print", spoiled_cut_off: "cut off",
    spoiled_cancelled: "cancelled by Disdukcapil, sheets destroyed", media_empty: "out of paper",
    offline: "printer off", stopped: "queue stopped", not_accepting: "printer refuses",
    media_not_a4: "paper not A4", printer_error: "printer error", pin_wrong: "wrong PIN",
    operator_locked: "too many wrong PINs", not_supervisor: "not a supervisor",
    claim_wrong: "code does not match", claim_locked: "too many wrong codes",
    printers: "printers", language: "language", claim_code: "with the resident's code",
  },
};

// Document type codes as staff say them; the same in both languages.
const DOC_TYPES = {
  KK: "KK", BIODATA: "Biodata", AKTA_LAHIR: "Akta Lahir", AKTA_MATI: "Akta Kematian",
  AKTA_KAWIN: "Akta Perkawinan", AKTA_CERAI: "Akta Perceraian",
  AKTA_AKUI_ANAK: "Akta Pengakuan Anak", AKTA_SAH_ANAK: "Akta Pengesahan Anak",
  SKPWNI: "Surat Pindah", SKET: "Surat Keterangan",
};

const TABLES = { id: ID, en: EN };
let current = "id";

export function setLang(lang) {
  current = lang === "en" ? "en" : "id";
  document.documentElement.lang = current;
}

export function lang() {
  return current;
}

// The text for `key` with {name} placeholders filled in.
export function t(key, params = {}) {
  const text = TABLES[current][key] ?? ID[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

// A server error or a {message_id, message_en} pair in the current language.
export function msg(pair) {
  return (current === "en" ? pair.message_en : pair.message_id) || pair.message_id || "";
}

// An audit record's action in words; a refused one as refused.
export function actionText(action, outcome = null, reason = null) {
  if (outcome === "refused") {
    const refused = action === "claim_wrong" ? REFUSED[current][reason] : REFUSED[current][action];
    if (refused) return refused;
  }
  return ACTIONS[current][action] ?? action;
}

export function signGroupText(n) {
  return SIGN_GROUP[current].replace("{n}", String(n));
}

export function signGroupToggle(open) {
  return SIGN_GROUP_TOGGLE[current][open ? 1 : 0];
}

export function outcomeText(outcome) {
  return OUTCOMES[current][outcome] ?? outcome ?? "";
}

export function docType(code) {
  return DOC_TYPES[code] ?? code.replace(/_/g, " ");
}

export function reasonText(reason) {
  return reason ? REASONS[current][reason] ?? "" : "";
}

// "5 menit lalu" for a past moment, seconds since the epoch.
export function ago(thenS, nowS) {
  const s = Math.max(0, nowS - thenS);
  if (s < 60) return t("just_now");
  if (s < 3600) return t("minutes_ago", { n: Math.floor(s / 60) });
  if (s < 86400 * 2) return t("hours_ago", { n: Math.floor(s / 3600) });
  return t("days_ago", { n: Math.floor(s / 86400) });
}

function two(n) {
  return String(n).padStart(2, "0");
}

// The office's offset from UTC in seconds (WIB/WITA/WIT, from the agent's settings or its
// district code: /api/state's utc_offset_s); every time on every screen is in this zone,
// as on the history and the receipts, whatever zone the computer's clock is set to.
let officeOffsetS = null;

export function setOfficeOffset(offsetS) {
  if (typeof offsetS === "number") officeOffsetS = offsetS;
}

// Calendar parts of a moment: in the office's time zone when its UTC offset is known,
// else in the computer's (only before the first /api/state answer).
function parts(epochS, offsetS) {
  if (typeof offsetS === "number") {
    const d = new Date((epochS + offsetS) * 1000);
    return { y: d.getUTCFullYear(), m: d.getUTCMonth(), d: d.getUTCDate(), h: d.getUTCHours(),
      min: d.getUTCMinutes() };
  }
  const d = new Date(epochS * 1000);
  return { y: d.getFullYear(), m: d.getMonth(), d: d.getDate(), h: d.getHours(),
    min: d.getMinutes() };
}

// "14:05", with "kemarin" / "besok" or a date for other days.
export function clock(thenS, nowS, offsetS = officeOffsetS) {
  const then = parts(thenS, offsetS);
  const hm = `${two(then.h)}:${two(then.min)}`;
  const same = (a, b) => a.y === b.y && a.m === b.m && a.d === b.d;
  if (same(then, parts(nowS, offsetS))) return hm;
  if (same(then, parts(nowS - 86400, offsetS))) return `${t("yesterday")} ${hm}`;
  if (same(then, parts(nowS + 86400, offsetS))) return `${t("tomorrow")} ${hm}`;
  return `${two(then.d)}/${two(then.m + 1)} ${hm}`;
}

// "1:05" for a countdown in seconds.
export function countdown(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${two(s % 60)}`;
}
